"""One build step as a handler sees it: the stage's state, expansion, the cache and commit.

A handler computes the step's inputs, asks `use_cache(inputs)` (a hit loads the cached
image and returns True), and otherwise changes `state.config` / adds a layer and calls
`commit()`. Of the build it sees only `step.ctx`, a StepContext: the options, build args,
layer epoch, progress, the build context and what `--from` names. The Builder stays the
Step's own (cache and commit); tests/unit/house/test_step_context.py keeps handlers off it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rootless_build.builder import cache
from rootless_build.builder.args import StageArgs
from rootless_build.builder.history import now_ns
from rootless_build.dockerfile.expanded import expanded
from rootless_build.dockerfile.serialize import to_json
from rootless_build.errors import BuildError
from rootless_build.oci import config as ic
from rootless_build.record import Record

if TYPE_CHECKING:
    from rootless_build.builder.args import BuildArgs
    from rootless_build.builder.context import BuildContext
    from rootless_build.builder.imagefs import ImageFS
    from rootless_build.builder.options import BuildOptions
    from rootless_build.builder.progress import Progress


class StageState(Record):
    """Where a stage is: its image config so far, its layers, and its ARGs."""

    config: dict
    layers: list[dict]
    parent: str  # cache identity of the current image: a manifest digest or scratch:<platform>
    args: StageArgs
    image: object = None  # the last committed store Image (None before the first commit)
    cmd_set: bool = False  # a CMD in this stage (ENTRYPOINT then keeps it)
    dirty: bool = False  # config changed since the last commit (PATH added, ONBUILD consumed)
    no_cache: bool = False  # --no-cache-filter names this stage: its steps are all built
    prebuilt: bool = False  # a child of this build made the stage: its cache is this build's
    _fs: ImageFS | None = None

    def env(self) -> dict[str, str]:
        """What `$VAR` expands to: the stage's ARGs overridden by the image's ENV."""
        return {**self.args.env(), **ic.env_map(self.config)}

    def adopt(self, image) -> None:
        self.config, self.layers = ic.from_image(image)
        self.image = image
        self.parent = image.manifest_digest

    def filesystem(self, store) -> ImageFS:
        """The stage's filesystem so far, read from its layer tars. Kept across steps: a
        new layer on top is applied to it instead of rescanning every layer."""
        from rootless_build.builder.imagefs import ImageFS

        wanted = [(layer["digest"], layer.get("mediaType", "")) for layer in self.layers]
        fs = self._fs
        if fs is None or fs.layers != wanted[: len(fs.layers)]:
            fs = self._fs = ImageFS(store, [])
        for layer in wanted[len(fs.layers):]:
            fs.apply(*layer)
        return fs


class StepContext:
    """What a handler may use of the build its step belongs to: a read-only view of the
    Builder (the build context is still read only when a step first asks for it)."""

    __slots__ = ("_build",)

    def __init__(self, build) -> None:
        self._build = build

    @property
    def options(self) -> BuildOptions:
        return self._build.options

    @property
    def build_args(self) -> BuildArgs:
        return self._build.build_args

    @property
    def layer_epoch(self) -> int | None:
        """--source-date-epoch / --rewrite-timestamp: file times in new layers, seconds."""
        return self._build.layer_epoch

    @property
    def layer_epoch_ns(self) -> int | None:
        return self._build.layer_epoch_ns

    @property
    def progress(self) -> Progress:
        return self._build.progress

    @property
    def build_context(self) -> BuildContext:
        return self._build.context

    def source_image(self, ref: str):
        """The store Image `--from=ref` names: an earlier stage or an image."""
        return self._build.source_image(ref)

    def source_tree(self, ref: str) -> tuple[ImageFS, str]:
        """The filesystem `COPY --from=ref` reads, and how to name it in messages."""
        return self._build.source_tree(ref)


class Step:
    def __init__(self, build, state: StageState, instruction, *, filename: str, last: bool):
        self._build = build  # the Builder: for the cache and commit only
        self.ctx = StepContext(build)
        self.store = build.store
        self.state = state
        self.instruction = instruction
        self.filename = filename
        self.last = last
        self.key: str | None = None
        self.cached = False

    # -- inputs ------------------------------------------------------------------------

    def expanded(self):
        return expanded(self.instruction, self.state.env(), filename=self.filename)

    def describe(self, instruction) -> dict:
        """An instruction's cache inputs: every field but where it sits in the file."""
        data = to_json(instruction)
        for name in ("line", "end_line"):
            data.pop(name, None)
        return data

    def fail(self, reason: str) -> BuildError:
        where = f"{self.filename}:{self.instruction.line}"
        return BuildError(f"{where}: {_short(self.instruction.original)}: {reason}")

    # -- cache ---------------------------------------------------------------------------

    def use_cache(self, inputs) -> bool:
        """Compute the step's key; on a hit, continue from the cached image."""
        build = self._build
        if build.epoch is not None or build.layer_epoch is not None:
            # the same step under other timestamps is another image: never one from cache
            inputs = {"inputs": inputs, "epoch": build.epoch, "layer_epoch": build.layer_epoch}
        self.key = cache.step_key(self.state.parent, self.instruction.keyword, inputs)
        if (self._build.options.no_cache or self.state.no_cache) and not self.state.prebuilt:
            self._build.work_ahead()
            return False
        image = self._build.step_cache.lookup(self.key)
        if image is None or self._expired(image):
            self._build.work_ahead()
            return False
        self.state.adopt(image)
        self.cached = True
        self._build.progress.using_cache(image.id)
        return True

    def _expired(self, image) -> bool:
        """--cache-ttl: a cached step made longer ago than this is built again (buildah)."""
        ttl = self._build.options.cache_ttl_ns
        if ttl is None:
            return False
        created = image.created
        if created is None:
            return True
        import time

        return time.time_ns() - int(created.timestamp() * 1_000_000_000) > ttl

    # -- results -------------------------------------------------------------------------

    def now(self) -> int:
        return now_ns(self._build.epoch)

    def add_layer(self, diff_id: str, size: int) -> None:
        ic.add_layer(self.state.config, self.state.layers, diff_id, size)

    def commit(self, created_by: str, *, empty_layer: bool, author: str | None = None) -> None:
        """Record the history entry, store the step's image and its cache record."""
        created = ic.rfc3339(self.now())
        config = self.state.config
        ic.add_history(config, created, created_by, empty_layer=empty_layer, author=author)
        config["created"] = created
        image = self._build.write_image(config, self.state.layers)
        if self.key is not None:
            self._build.step_cache.record(self.key, image)
        self.state.adopt(image)


def _short(text: str, limit: int = 72) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
