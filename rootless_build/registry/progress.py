"""Progress of pulls and pushes: the events the registry code reports, and the displays a
command chooses (rich bars on a terminal, docker-like status lines otherwise, or none).

The registry code never prints; it calls these methods. Keys are short blob ids.
"""

from __future__ import annotations

import sys
import threading
from typing import Protocol, TextIO

# Statuses that are worth a line when there are no bars (docker prints the same ones).
_LINE_STATUSES = frozenset({
    "Pulling fs layer", "Already exists", "Download complete", "Pull complete", "Verifying Checksum",
    "Preparing", "Layer already exists", "Pushed", "Compressing", "Retrying",
}) | {"Mounted from"}


class Progress(Protocol):
    def message(self, text: str) -> None:
        """A whole line: 'latest: Pulling from library/busybox', 'Digest: ...'."""

    def item(self, key: str, status: str, total: int | None = None) -> None:
        """A blob's status changed ('Downloading' with its size, 'Pull complete', ...)."""

    def advance(self, key: str, nbytes: int) -> None:
        """`nbytes` more of a blob moved."""

    def reset(self, key: str, done: int) -> None:
        """The count of moved bytes restarts at `done` (a resumed or restarted transfer)."""

    def items_done(self) -> None:
        """Every blob is settled: what follows are summary lines below the bars."""

    def close(self) -> None:
        ...


class NoProgress:
    def message(self, text: str) -> None:
        pass

    def item(self, key: str, status: str, total: int | None = None) -> None:
        pass

    def advance(self, key: str, nbytes: int) -> None:
        pass

    def reset(self, key: str, done: int) -> None:
        pass

    def items_done(self) -> None:
        pass

    def close(self) -> None:
        pass


class LineProgress(NoProgress):
    """docker's output when stdout is not a terminal: one line per status change."""

    def __init__(self, stream: TextIO | None = None):
        self._stream = stream or sys.stdout
        self._lock = threading.Lock()
        self._last: dict[str, str] = {}

    def message(self, text: str) -> None:
        with self._lock:
            print(text, file=self._stream, flush=True)

    def item(self, key: str, status: str, total: int | None = None) -> None:
        with self._lock:
            if self._last.get(key) == status:
                return
            self._last[key] = status
            if status in _LINE_STATUSES or status.startswith("Mounted from"):
                print(f"{key}: {status}", file=self._stream, flush=True)


class RichProgress(NoProgress):
    """A bar per blob while it moves, then its final status, as docker shows on a terminal."""

    def __init__(self, stream: TextIO | None = None):
        from rich.console import Console
        from rich.progress import DownloadColumn, TextColumn
        from rich.progress import Progress as _Progress

        self._console = Console(file=stream or sys.stdout)
        self._progress = _Progress(
            TextColumn("{task.fields[key]}: {task.fields[status]}"),
            _ActiveOnly(_bar_column()),
            _ActiveOnly(DownloadColumn()),
            console=self._console, transient=False, auto_refresh=True, refresh_per_second=8,
        )
        self._tasks: dict[str, int] = {}
        self._lock = threading.Lock()
        self._started = False

    def _start(self) -> None:
        if not self._started:
            self._progress.start()
            self._started = True

    def message(self, text: str) -> None:
        with self._lock:
            self._console.print(text, highlight=False, markup=False, soft_wrap=True)

    def item(self, key: str, status: str, total: int | None = None) -> None:
        with self._lock:
            self._start()
            task = self._tasks.get(key)
            if task is None:
                self._tasks[key] = self._progress.add_task("", total=total, key=key, status=status)
                return
            fields = {"status": status}
            if total is not None:
                self._progress.update(task, total=total, **fields)
            else:
                self._progress.update(task, **fields)

    def advance(self, key: str, nbytes: int) -> None:
        task = self._tasks.get(key)
        if task is not None:
            self._progress.advance(task, nbytes)

    def reset(self, key: str, done: int) -> None:
        task = self._tasks.get(key)
        if task is not None:
            self._progress.update(task, completed=done)

    def items_done(self) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._started:
                self._progress.refresh()
                self._progress.stop()
                self._started = False


def _bar_column():
    from rich.progress import BarColumn

    return BarColumn(bar_width=40)


def _ActiveOnly(column):  # noqa: N802  (reads as a column class at the call site)
    """Show a column only while the blob is moving (docker shows bars only then)."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class ActiveOnly(ProgressColumn):
        def render(self, task):
            if task.fields.get("status") in ("Downloading", "Pushing", "Compressing"):
                return column.render(task)
            return Text("")

    return ActiveOnly()


def for_terminal(quiet: bool, stream: TextIO | None = None) -> Progress:
    """The display a command should use: none with -q, bars on a terminal, lines otherwise."""
    stream = stream or sys.stdout
    if quiet:
        return NoProgress()
    if stream.isatty():
        return RichProgress(stream)
    return LineProgress(stream)
