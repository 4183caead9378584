"""`build --progress tty` (and `auto` on a terminal): a grouped view like BuildKit's.

The build forks before it starts: the child builds with rawjson progress into two pipes (so
the stages it hands to child builds, and the build it re-executes in the user namespace,
write there too); this process reads the events and draws them with `rich.live` (imported
here only: a build on a pipe never loads rich), then exits with the child's status. Each
stage is a group: finished steps one line each (CACHED or their time), the running step
with its elapsed time and the last lines of its output. The final screen stays; on an
error, the failing step's whole output follows it, then the error."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import Any

from rootless_build.cli.buildview import BuildView, StepView

TAIL = 6                # output lines shown under a running step
REFRESH = 0.125         # seconds between two screens
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def fork_build(forced: bool) -> None:
    """Returns in the child, which goes on to build; the parent draws, then exits with the
    child's status (never returning: what the command set up is the child's to undo)."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(out_r)
        os.close(err_r)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.close(out_w)
        os.close(err_w)
        os.environ["ROOTLESS_BUILD_PROGRESS"] = "rawjson"
        return
    os.close(out_w)
    os.close(err_w)
    # Ctrl-C reaches the build too (same process group): it stops cleanly, we draw that.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda _s, _f: _signal(pid, signal.SIGTERM))
    try:
        code = _draw(pid, out_r, err_r, forced)
    except Exception:   # the view broke: what the build still says goes out as it comes
        _pass_through({out_r: 1, err_r: 2})
        code = _wait(pid)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _pass_through(pipes: dict[int, int]) -> None:
    """Copy each pipe to its fd until the build closes them (so it never blocks on a full one)."""
    import selectors

    selector = selectors.DefaultSelector()
    for fd in pipes:
        selector.register(fd, selectors.EVENT_READ)
    while pipes:
        for key, _ in selector.select():
            chunk = os.read(key.fd, 65536)
            if not chunk:
                selector.unregister(key.fd)
                del pipes[key.fd]
                continue
            try:
                while chunk:
                    chunk = chunk[os.write(pipes[key.fd], chunk):]
            except OSError:
                pass


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _wait(pid: int) -> int:
    return _exit_code(os.waitpid(pid, 0)[1])


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code      # killed by a signal: as a shell says it


class _Lines:
    """Complete lines from a pipe, as they come."""

    def __init__(self, fd: int):
        self.fd = fd
        self._rest = b""

    def read(self) -> list[str] | None:
        chunk = os.read(self.fd, 65536)
        if not chunk:
            return None
        *lines, self._rest = (self._rest + chunk).split(b"\n")
        return [line.decode(errors="replace") for line in lines]


def _draw(pid: int, out_fd: int, err_fd: int, forced: bool) -> int:
    import selectors

    from rich.console import Console
    from rich.live import Live

    console = Console(file=sys.stdout, force_terminal=True if forced else None, highlight=False)
    errors = Console(file=sys.stderr, force_terminal=True if forced else None, highlight=False)
    view = BuildView(time.monotonic())
    held: list[str] = []        # error lines: said after the final screen
    selector = selectors.DefaultSelector()
    readers = {out_fd: _Lines(out_fd), err_fd: _Lines(err_fd)}
    for fd in readers:
        selector.register(fd, selectors.EVENT_READ)
    code: int | None = None
    exited_at = 0.0
    with Live(console=console, transient=True, auto_refresh=False, redirect_stdout=False,
              redirect_stderr=False) as live:
        while readers:
            for key, _ in selector.select(REFRESH):
                lines = readers[key.fd].read()
                if lines is None:
                    selector.unregister(key.fd)
                    del readers[key.fd]
                    continue
                for line in lines:
                    _take(view, line, key.fd == err_fd, live, held)
            if code is None:
                finished, status = os.waitpid(pid, os.WNOHANG)
                if finished:
                    code = _exit_code(status)
                    exited_at = time.monotonic()
            elif time.monotonic() - exited_at > 2:   # something it started still holds a pipe
                break
            live.update(_screen(view, time.monotonic(), console.size.height - 1), refresh=True)
    if code is None:
        code = _wait(pid)
    failed = view.end(time.monotonic(), code == 0, "\n".join(held))
    console.print(_screen(view, time.monotonic()))
    for step in failed:
        _failure(errors, step)
    for line in held:
        errors.print(line, markup=False)
    if code == 0 and view.image_id:
        print(view.image_id.split(":", 1)[-1], flush=True)
    return code


def _take(view: BuildView, line: str, from_stderr: bool, live: Any, held: list[str]) -> None:
    event = _event(line)
    now = time.monotonic()
    if event is None:
        if "Error: " in line:
            held.append(line)
            return
        if not from_stderr and line.startswith("[") and line.endswith("]") and "/" in line:
            view.section = line[1:-1] + " "     # a multi-platform build moves to a platform
        live.console.print(line, markup=False)
    elif event.get("event") == "warning":
        live.console.print(f"WARNING: {event.get('text')}", style="yellow", markup=False)
    else:
        view.feed(event, now)


def _event(line: str) -> dict | None:
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and "event" in event else None


def _screen(view: BuildView, now: float, height: int | None = None) -> Any:
    """The whole view; given a height it does not fit in, finished stages are one line each
    (the running ones are what the screen is for)."""
    from rich.table import Table
    from rich.text import Text

    table = Table.grid(expand=True, padding=(0, 1))
    table.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
    table.add_column(justify="right", no_wrap=True)
    done, total = view.counts()
    ended = view.finished is not None
    title = f"[+] Building {((view.finished or now) - view.start):.1f}s ({done}/{total})"
    table.add_row(Text(title + (" FINISHED" if ended else ""), style="bold blue" if ended else "bold"), "")
    frame = SPINNER[int(now / REFRESH) % len(SPINNER)]
    rows = 1 + sum(1 + len(steps) + (TAIL if _busy(steps) else 0) for steps in view.groups.values())
    fold = height is not None and rows > height
    for group, steps in view.groups.items():
        busy = _busy(steps)
        if fold and not busy:
            took = max(s.ended or now for s in steps) - min(s.started for s in steps)
            table.add_row(Text(f" => {group} ({len(steps)} steps)", style="bold"), Text(f"{took:.1f}s", style="blue"))
            continue
        table.add_row(Text(f" => {group}", style="bold yellow" if busy else "bold"), "")
        for step in steps:
            _step_rows(table, step, now, frame)
    return table


def _busy(steps: list[StepView]) -> bool:
    return any(s.state == "running" for s in steps)


MARKS = {"done": "✔", "cached": "✔", "error": "✘", "canceled": "-"}
STYLES = {"running": "yellow", "done": "blue", "cached": "blue", "error": "red", "canceled": "dim"}


def _step_rows(table: Any, step: StepView, now: float, frame: str) -> None:
    from rich.text import Text

    if step.state == "cached":
        when = "CACHED"
    elif step.state in ("error", "canceled"):
        when = step.state.upper()
    else:
        when = f"{step.elapsed(now):.1f}s"
    style = STYLES[step.state]
    table.add_row(Text(f"   {MARKS.get(step.state, frame)} {step.label}", style=style), Text(when, style=style))
    if step.state == "running":
        for line in step.all_lines()[-TAIL:]:
            table.add_row(Text(f"     {line}", style="dim"), "")


def _failure(console: Any, step: StepView) -> None:
    """BuildKit's block: the failing step, then all its output."""
    console.print("------", markup=False)
    console.print(f" > {step.label}:", markup=False)
    for line in step.all_lines():
        console.print(line, markup=False, highlight=False)
    console.print("------", markup=False)
