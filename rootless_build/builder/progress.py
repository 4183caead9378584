"""Build output in buildah's words: `STEP n/N: ...`, `--> Using cache ...`, `--> <id>`,
`COMMIT name`, `Successfully tagged name`, then the image id. `-q` prints the id only;
`--progress rawjson` prints the same events as JSON lines (RUN output included), each step
naming its stage (`group`, `group_step`, `group_total`: the groups of the tty view,
cli/ttyprogress.py, which reads these events from the build it runs)."""

from __future__ import annotations

import os
import sys
from typing import TextIO

from rootless_build.oci.digest import short_id

# A build that meets its first uncached RUN outside the user namespace goes on in a new
# process inside it, from the start (earlier steps are cached by then); this tells that
# process how many steps the first one already showed, so the user sees each step once.
SHOWN_STEPS_ENV = "_ROOTLESS_BUILD_SHOWN_STEPS"
# --progress, for this process and the builds it starts (the namespace, parallel stages).
PROGRESS_ENV = "ROOTLESS_BUILD_PROGRESS"


def emit_json(event: str, out: TextIO | None = None, **fields: object) -> None:
    import json

    print(json.dumps({"event": event, **fields}, sort_keys=True), file=out or sys.stdout, flush=True)


class Progress:
    def __init__(self, quiet: bool = False, out: TextIO | None = None, err: TextIO | None = None):
        self.json = os.environ.get(PROGRESS_ENV) == "rawjson"
        self.quiet = quiet or os.environ.get(PROGRESS_ENV) == "quiet"
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.current_step = 0
        self._already_shown = int(os.environ.pop(SHOWN_STEPS_ENV, "0") or 0)
        # A stage built in a child process (build/prefetch.py): its lines name the stage.
        self.prefix = os.environ.get("ROOTLESS_BUILD_PROGRESS_PREFIX", "")
        self._group = ("", 0)    # the stage being built: its label and number of steps
        self._group_step = 0

    @property
    def resumed(self) -> bool:
        """This process goes on with a build its parent started and showed the start of."""
        return self._already_shown > 0

    def _print(self, line: str, event: str = "", **fields: object) -> None:
        if self.quiet or self.current_step < self._already_shown:
            return
        if self.json:
            stage = self.prefix.strip()[1:-1]
            emit_json(event, self.out, **fields, **({"stage": stage} if stage else {}))
        else:
            print(self.prefix + line, file=self.out, flush=True)

    def stage(self, label: str, steps: int) -> None:
        """The next `steps` steps are those of the stage `label` (its name, or stage-N)."""
        self._group = (label, steps)
        self._group_step = 0

    def step(self, number: int, total: int, text: str) -> None:
        self.current_step = number
        self._group_step += 1
        if number != self._already_shown:
            group = {"group": self._group[0], "group_step": self._group_step,
                     "group_total": self._group[1]} if self._group[0] else {}
            self._print(f"STEP {number}/{total}: {text}", "step", number=number, total=total, text=text, **group)

    def using_cache(self, image_id: str) -> None:
        self._print(f"--> Using cache {short_id(image_id)}", "cached", id=image_id)

    def produced(self, image_id: str) -> None:
        self._print(f"--> {short_id(image_id)}", "produced", id=image_id)

    def commit(self, names: list[str]) -> None:
        self._print("COMMIT " + " ".join(names) if names else "COMMIT", "commit", names=names)

    def tagged(self, name: str) -> None:
        self._print(f"Successfully tagged {name}", "tagged", name=name)

    def image_id(self, image_id: str) -> None:
        if self.json:
            emit_json("image", self.out, id=image_id)
        else:
            print(image_id.split(":", 1)[-1], file=self.out, flush=True)

    def done(self) -> None:
        """A stage built in a child process is finished (rawjson only)."""
        if self.json and not self.quiet:
            self._print("", "done")

    def extracting(self, blob: str) -> None:
        """A base layer is unpacked into the store's cache (once per store; rawjson only:
        buildah's lines say nothing of it)."""
        if self.json and not self.quiet:
            stage = self.prefix.strip()[1:-1]
            emit_json("extracting", self.out, digest=blob, **({"stage": stage} if stage else {}))

    def warn(self, text: str) -> None:
        if self.json:
            emit_json("warning", self.err, text=text)
        else:
            print(f"{self.prefix}WARNING: {text}", file=self.err, flush=True)
