"""Independent stages built at once (`--jobs`): each in a child build of its own.

The build itself still walks its stages in Dockerfile order. When a step first misses the
cache (work is about to happen), the stages that do not wait for anything unbuilt are
handed to child processes (`python -m rootless_build.builder.stagejob`), at most `jobs - 1` at
a time beside this one. A child builds one stage into the same store and cache, and the
build, when it reaches that stage, waits for the child and then finds every step cached:
its image is the one a sequential build makes, to the digest, and a stage that failed in a
child fails again here, with the build's own error. A fully cached build starts nothing.

Children are processes, not threads: each can enter its own user namespace in place, and
each cleans up after itself on SIGTERM, which is how a failed build stops the others.

A base shared by stages is pulled and unpacked once per build: the build resolves (and
pulls) every FROM base, and the images COPY --from and RUN --mount=from= name, before any
child starts and hands the children their manifest digests (BASES_ENV), so no child asks a
registry again; the layers are unpacked into the
store's shared cache under a lock per layer (store/unpacked.py), so a child that needs a
layer another one is unpacking waits for it and then uses it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rootless_build.record import asdict

if TYPE_CHECKING:
    import subprocess

PREFIX_ENV = "ROOTLESS_BUILD_PROGRESS_PREFIX"
ERROR_ENV = "ROOTLESS_BUILD_STAGE_ERROR_FILE"   # where a child writes its one-line error
BASES_ENV = "ROOTLESS_BUILD_STAGE_BASES"        # JSON: the build's found images -> manifest digests


class StagePrefetcher:
    def __init__(self, store_root: str, options: Any, stages: list[Any], deps: dict[int, set[int]],
                 target: int, jobs: int, before_children: Callable[[], None] | None = None) -> None:
        self._store_root = store_root
        self._before_children = before_children   # run once, before the first child starts
        self._options = options
        self._stages = {stage.index: stage for stage in stages}
        self._deps = deps
        self._target = target
        self._slots = max(jobs - 1, 0)
        self._running: dict[int, subprocess.Popen[bytes]] = {}
        self._finished: dict[int, bool] = {}   # stage -> its child succeeded
        self._kicked = False
        self._errors: dict[int, str] = {}      # stage -> the file its child's error goes to
        self._mine: set[int] = set()           # stages this build makes itself
        self._old_sigchld: Any = None
        self.failure: str | None = None        # the first child's error: the build's error
        self.built: set[int] = set()           # stages this build has finished itself

    def worth_it(self) -> bool:
        """True when two stages could ever run at once (the graph is not a chain)."""
        if self._slots == 0:
            return False
        others = [i for i in self._stages if i != self._target]
        return any(not (self._ancestors(a) & {b} or self._ancestors(b) & {a})
                   for n, a in enumerate(others) for b in others[n + 1:])

    def _ancestors(self, index: int) -> set[int]:
        seen: set[int] = set()
        pending = list(self._deps.get(index, ()))
        while pending:
            dep = pending.pop()
            if dep not in seen:
                seen.add(dep)
                pending.extend(self._deps.get(dep, ()))
        return seen

    def kick(self) -> None:
        """Work is about to happen: start what can run beside it (from now on, too)."""
        if not self._kicked:
            self._kicked = True
            if self._before_children is not None:
                self._before_children()
            # A child that fails ends the build at once, through the clean-up of SIGTERM
            # (the step in progress here is stopped and removed, like on Ctrl-C).
            self._old_sigchld = signal.signal(signal.SIGCHLD, self._child_exited)
        self._start_ready()

    def _child_exited(self, _signum: int, _frame: object) -> None:
        for index, child in list(self._running.items()):
            status = child.poll()
            if status is not None and status != 0 and self.failure is None:
                self.failure = self._error_of(index)
                os.kill(os.getpid(), signal.SIGTERM)

    def _error_of(self, index: int) -> str:
        label = self._label(index)
        try:
            with open(self._errors[index]) as f:
                text = f.read().strip()
        except OSError:
            text = ""
        return text or f"stage {label} failed"

    def _label(self, index: int) -> str:
        return self._stages[index].name or f"stage-{index}"

    def before_stage(self, index: int) -> bool:
        """Called as the build reaches a stage: waits for its child, if it has one. True when
        a child built it (its steps are then in the cache, whatever --no-cache says); a child
        that failed fails the build with its error."""
        self._mine.add(index)
        self._reap(block_for=index)
        if self._finished.get(index) is False:
            from rootless_build.errors import BuildError

            raise BuildError(self.failure or self._error_of(index))
        self._start_ready()
        return self._finished.get(index, False)

    def _ready(self) -> list[int]:
        done = self.built | {i for i, ok in self._finished.items() if ok}
        return [i for i in sorted(self._stages)
                if i != self._target and i not in done and i not in self._running and i not in self._finished
                and i not in self._mine and self._deps.get(i, set()) <= done]

    def _start_ready(self) -> None:
        if not self._kicked:
            return
        self._reap()
        for index in self._ready():
            if len(self._running) >= self._slots:
                break
            self._running[index] = self._spawn(index)

    def _spawn(self, index: int) -> subprocess.Popen[bytes]:
        stage = self._stages[index]
        fields = asdict(self._options)
        fields.pop("found_images", None)
        fields.update(target=stage.name or str(index), tags=[], outputs=[], iidfile=None, metadata_file=None,
                      squash=None, format="oci", annotations={}, unset_env=[], unset_labels=[],
                      inherit_labels=True, labels={}, jobs=1, sbom=False, sbom_output=None, provenance=None,
                      cache_to=[])
        import tempfile

        fd, self._errors[index] = tempfile.mkstemp(prefix="rootless-build-stage-")
        os.close(fd)
        bases = {key: image.manifest_digest for key, image in self._options.found_images.items()}
        env = {**os.environ, PREFIX_ENV: f"[{self._label(index)}] ", ERROR_ENV: self._errors[index],
               BASES_ENV: json.dumps(bases)}
        import subprocess  # lazily: a cached build plans stages but never starts a child (~1 ms)

        child = subprocess.Popen([sys.executable, "-m", "rootless_build.builder.stagejob", self._store_root],
                                 stdin=subprocess.PIPE, env=env)
        assert child.stdin is not None
        child.stdin.write(json.dumps(fields).encode())
        child.stdin.close()
        return child

    def _reap(self, block_for: int | None = None) -> None:
        for index, child in list(self._running.items()):
            status = child.wait() if index == block_for else child.poll()
            if status is not None:
                del self._running[index]
                self._finished[index] = status == 0

    def stop(self) -> None:
        """The build ends (or failed): children still running are stopped; they clean up."""
        if self._old_sigchld is not None:
            signal.signal(signal.SIGCHLD, self._old_sigchld)
            self._old_sigchld = None
        for child in self._running.values():
            try:
                child.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        for child in self._running.values():
            child.wait()
        self._running.clear()
        for path in self._errors.values():
            try:
                os.unlink(path)
            except OSError:
                pass


def resolve_images(store: Any, options: Any, names: list[str], named_image: Callable[[str], str]) -> None:
    """The images stages read through --from, resolved (pulled when the policy says so) into
    `options.found_images`, which the children are handed. A name that fails here is left to
    the step that reads it, which says what is wrong."""
    from rootless_build.builder.stages import find_base_image
    from rootless_build.errors import RootlessBuildError

    for name in names:
        context = options.build_contexts.get(name.lower())
        if context is not None and context[0] != "image":
            continue        # a directory build context: nothing to pull
        try:
            find_base_image(store, named_image(name), options=options)
        except RootlessBuildError:
            pass
