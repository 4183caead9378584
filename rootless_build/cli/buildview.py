"""What the tty progress view shows, kept from the build's rawjson events (builder/progress.py):
stages as groups of steps, each step running, done (with its time), CACHED, failed or
canceled, with its RUN output. No drawing here (cli/ttyprogress.py draws it with rich).

A stage built by a child process (`stage` in its events) and met again by the build, which
then finds its steps cached, is one group: a step is known by its stage and its place in
the stage, and the first stream to finish it says how it went."""

from __future__ import annotations

from collections import deque

OUTPUT_LINES = 10_000   # kept per step, for the failing step's output (the rest is dropped)


class StepView:
    def __init__(self, group: str, place: int, total: int, text: str, now: float):
        self.group = group
        self.place = place          # 1-based, within its stage
        self.total = total          # steps of its stage (0: unknown)
        self.text = text
        self.started = now
        self.ended: float | None = None
        self.state = "running"      # running, done, cached, error, canceled
        self.lines: deque[str] = deque(maxlen=OUTPUT_LINES)
        self._partial = ""

    @property
    def label(self) -> str:
        where = f"{self.place}/{self.total}" if self.total else str(self.place)
        return f"[{self.group} {where}] {self.text}"

    def elapsed(self, now: float) -> float:
        return (self.ended or now) - self.started

    def finish(self, now: float, state: str = "done") -> None:
        if self.state == "running":
            self.state = state
            self.ended = now

    def output(self, data: str) -> None:
        text = self._partial + data
        *complete, self._partial = text.split("\n")
        # A progress bar redraws its line after a CR: what the terminal would show is what is left.
        self.lines.extend(line.rsplit("\r", 1)[-1] for line in complete)

    def all_lines(self) -> list[str]:
        return [*self.lines, *([self._partial.rsplit("\r", 1)[-1]] if self._partial else [])]


class BuildView:
    def __init__(self, start: float):
        self.start = start
        self.groups: dict[str, list[StepView]] = {}
        self.total = 0                                 # the build's step count (its own stream)
        self._steps: dict[tuple[str, int], StepView] = {}
        self._current: dict[str, StepView | None] = {}  # per stream ("" = the build, or a stage)
        self.image_id: str | None = None
        self.names: list[str] = []
        self.finished: float | None = None
        self.section = ""   # a multi-platform build: "PLATFORM " of the one being built

    def feed(self, event: dict, now: float) -> None:
        """One event of the build's (or a child's) stdout."""
        stream = str(event.get("stage") or "")
        kind = event.get("event")
        current = self._current.get(stream)
        if kind == "step":
            self._step(stream, event, now)
        elif kind == "log" and current is not None:
            current.output(str(event.get("data", "")))
        elif kind == "extracting" and current is not None:
            current.output(f"extracting {event.get('digest')}\n")
        elif kind == "cached" and current is not None:
            current.finish(now, "cached")
        elif kind in ("produced", "done") and current is not None:
            current.finish(now)
        elif kind == "commit":
            self.names = [str(n) for n in event.get("names") or []]
        elif kind == "image":
            self.image_id = str(event.get("id", ""))

    def _step(self, stream: str, event: dict, now: float) -> None:
        previous = self._current.get(stream)
        if previous is not None:
            previous.finish(now)
        if not stream:
            self.total = max(self.total, int(event.get("total") or 0))
        group = self.section + str(event.get("group") or stream or "build")
        place = int(event.get("group_step") or event.get("number") or 0)
        step = self._steps.get((group, place))
        if step is None:
            step = StepView(group, place, int(event.get("group_total") or 0), str(event.get("text", "")), now)
            self._steps[(group, place)] = step
            self.groups.setdefault(group, []).append(step)
        # The build reaches a stage a child built: that child is done with it.
        for other, running in self._current.items():
            if other != stream and running is not None and running.group == group:
                running.finish(now)
        self._current[stream] = step

    def end(self, now: float, ok: bool, error: str) -> list[StepView]:
        """The build ended: what still runs is done (ok), else failed or canceled. Returns the
        failed steps: those the error names (or every one still running when it names none)."""
        self.finished = now
        running = [s for s in self._steps.values() if s.state == "running"]
        if ok:
            for step in running:
                step.finish(now)
            return []
        # The error names the step as `FILE:LINE: INSTRUCTION: reason`, a long one cut short.
        failed = [s for s in running if s.text and s.text[:60] in error] or running
        for step in running:
            step.finish(now, "error" if step in failed else "canceled")
        return failed

    def counts(self) -> tuple[int, int]:
        done = sum(1 for s in self._steps.values() if s.state != "running")
        return done, max(self.total, len(self._steps))
