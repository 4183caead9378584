"""Dockerfile -> image: parse, pick the stages, run each step through its handler, tag.

    image = build(store, BuildOptions(context_dir=".", tags=["app:1.0"]))
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from rootless_build.build import imageconfig as ic
from rootless_build.build.args import BuildArgs, StageArgs
from rootless_build.build.cache import StepCache
from rootless_build.build.dockerfilesource import read_dockerfile
from rootless_build.build.handlers import handler_for
from rootless_build.build.history import build_epochs
from rootless_build.build.options import BuildOptions
from rootless_build.build.platform import check_platform, format_platform, predefined_args
from rootless_build.build.progress import Progress
from rootless_build.build.stages import (
    BaseRef,
    base_of,
    earlier_stage,
    find_base_image,
    stages_to_build,
    target_stage,
)
from rootless_build.build.step import StageState, Step
from rootless_build.dockerfile.dockerfile import Dockerfile, Stage, parse, parse_instruction
from rootless_build.dockerfile.expanded import expanded
from rootless_build.errors import BuildError, RootlessBuildError, UsageError

if TYPE_CHECKING:
    from rootless_build.build.context import BuildContext
    from rootless_build.build.imagefs import ImageFS


def build(store, options: BuildOptions, progress: Progress | None = None):
    """Build the image `options` describe; returns the final store Image (tagged)."""
    return Builder(store, options, progress or Progress(options.quiet)).run()


class Builder:
    def __init__(self, store, options: BuildOptions, progress: Progress):
        self.store = store
        self.options = options
        self.progress = progress
        self.step_cache = StepCache.for_build(store, options, progress.warn)
        self.platform = check_platform(options.platform)
        self.build_args = BuildArgs(options.build_args, predefined_args(self.platform))
        self.epoch, self.layer_epoch = build_epochs(options, self.build_args)
        self.layer_epoch_ns = None if self.layer_epoch is None else self.layer_epoch * 1_000_000_000
        self.stage_images: dict[int, object] = {}
        self._trees: dict[str, ImageFS] = {}
        self._dockerfile_path: Path | None = None
        self.filename = "Dockerfile"
        self.dockerfile: Dockerfile | None = None
        self.current_stage = 0  # --from names only stages before it; a later one is an image

    # -- the whole build ---------------------------------------------------------------

    def run(self):
        self.tags = [_normalize(tag) for tag in self.options.tags]
        if not Path(self.options.context_dir).is_dir():
            raise UsageError(f"build context {self.options.context_dir}: no such directory")
        text, self.filename, self._dockerfile_path = self._read_dockerfile()
        dockerfile = self.dockerfile = parse(text, self.filename)
        for warning in dockerfile.warnings:
            self.progress.warn(warning)
        for arg in dockerfile.meta_args:
            for definition in expanded(arg, self.build_args.global_env(), filename=self.filename).args:
                self.build_args.declare_global(definition.name, definition.default)
        target = target_stage(dockerfile, self.options.target)
        stages = stages_to_build(dockerfile, target, self.build_args.global_env())
        bases = {stage.index: self._base(stage) for stage in stages}
        self.total = sum(1 + len(stage.instructions) + len(self._triggers(bases[stage.index]))
                         for stage in stages)
        self.number = 0
        try:
            with self.store.writing():
                for stage in stages:
                    self.stage_images[stage.index] = self._build_stage(stage, bases[stage.index],
                                                                       last=stage is target)
                self.step_cache.export()
                image = self._finish(self.stage_images[target.index])
        finally:
            if "context" in self.__dict__:
                self.context.save()
            for tree in self._trees.values():
                tree.close()
        unused = self.build_args.unused()
        if unused:
            self.progress.warn(f"one or more build-args [{' '.join(unused)}] were not consumed")
        return image

    @cached_property
    def context(self) -> BuildContext:
        """The build context, read when a step first needs it (COPY, ADD, RUN --mount=type=bind):
        a build without one imports none of the context code."""
        from rootless_build.build.context import BuildContext

        return BuildContext.load(self.options.context_dir, self._dockerfile_path, self.store)

    def _read_dockerfile(self) -> tuple[str, str, Path | None]:
        return read_dockerfile(self.options)

    # -- stages --------------------------------------------------------------------------

    def _fail(self, instruction, reason: str) -> BuildError:
        return BuildError(f"{self.filename}:{instruction.line}: {instruction.original}: {reason}")

    def _base(self, stage: Stage) -> tuple[BaseRef, object]:
        """Where the stage starts, and the stored image when it starts from one."""
        try:
            from_ = expanded(stage.from_, self.build_args.global_env(), filename=self.filename)
            if from_.platform:
                check_platform(from_.platform)
            ref = base_of(self.dockerfile, stage, self.build_args.global_env())
            if ref.kind == "image":
                return ref, find_base_image(self.store, ref.name, options=self.options)
            return ref, None
        except RootlessBuildError as e:
            raise self._fail(stage.from_, str(e)) from None

    def _triggers(self, base: tuple[BaseRef, object]) -> list[str]:
        """The ONBUILD triggers a stage runs first: its base image's, or (as BuildKit) those
        of the earlier stage it starts from. Before that stage is built, their count is
        known from its ONBUILD lines (it runs, and drops, the triggers it inherits)."""
        ref, image = base
        if ref.kind == "stage":
            image = self.stage_images.get(ref.stage)
            if image is None:
                return [i.original for i in self.dockerfile.stages[ref.stage].instructions
                        if i.keyword == "ONBUILD"]
        if ref.kind == "scratch" or image is None:
            return []
        inner = image.config_json.get("config")
        triggers = inner.get("OnBuild") if isinstance(inner, dict) else None
        return [t for t in triggers if isinstance(t, str)] if isinstance(triggers, list) else []

    def _build_stage(self, stage: Stage, base: tuple[BaseRef, object], *, last: bool):
        ref, image = base
        self.current_stage = stage.index
        self._announce(stage.from_.original)
        state = self._start(ref, image)
        steps = [*self._trigger_instructions(stage, base), *stage.instructions]
        for position, instruction in enumerate(steps):
            self._announce(instruction.original)
            self._run_step(state, instruction, final_step=last and position == len(steps) - 1)
        if state.image is None or state.dirty:
            state.adopt(self.write_image(state.config, state.layers))
            state.dirty = False
        return state.image

    def _trigger_instructions(self, stage: Stage, base) -> list:
        out = []
        for text in self._triggers(base):
            try:
                out.append(parse_instruction(text, filename=f"{self.filename} (ONBUILD of the base image)"))
            except RootlessBuildError as e:
                raise self._fail(stage.from_, f"ONBUILD trigger {text!r}: {e}") from None
        return out

    def _announce(self, text: str) -> None:
        self.number += 1
        self.progress.step(self.number, self.total, text)

    def _start(self, ref: BaseRef, image) -> StageState:
        args = StageArgs(self.build_args)
        if ref.kind == "scratch":
            config = ic.scratch_config(*self.platform)
            state = StageState(config, [], f"scratch:{format_platform(*self.platform)}", args)
        else:
            if ref.kind == "stage":
                image = self.stage_images[ref.stage]
            state = StageState({}, [], "", args)
            state.adopt(image)
        inner = ic.container(state.config)
        if inner.pop("OnBuild", None) is not None:
            state.dirty = True
        if "PATH" not in ic.env_map(state.config):
            ic.ensure_path(state.config)
            state.dirty = True
        return state

    def _run_step(self, state: StageState, instruction, final_step: bool) -> None:
        handler = handler_for(instruction.keyword)
        if handler is None:
            raise self._fail(instruction, f"{instruction.keyword} is not supported here")
        step = Step(self, state, instruction, filename=self.filename, last=final_step)
        handler(step)
        state.dirty = False
        if not final_step:
            self.progress.produced(state.image.id)

    # -- services for steps ----------------------------------------------------------------

    def write_image(self, config: dict, layers: list[dict]):
        # Descriptors we made or read from a stored manifest: no model (pydantic) needed.
        return self.store.write_image(ic.to_bytes(config), layers)

    def source_image(self, ref: str):
        """What `--from=ref` names: an earlier stage (by name or index) or an image."""
        stage = earlier_stage(self.dockerfile, ref, self.current_stage)
        if stage is None:
            return find_base_image(self.store, ref, options=self.options)
        if stage.index not in self.stage_images:
            raise BuildError(f"stage {ref} has not been built (a stage can only copy from earlier stages)")
        return self.stage_images[stage.index]

    def source_tree(self, ref: str) -> tuple[ImageFS, str]:
        """The filesystem `COPY --from=ref` reads."""
        image = self.source_image(ref)
        is_stage = earlier_stage(self.dockerfile, ref, self.current_stage) is not None
        label = f"stage {ref}" if is_stage else f"image {ref}"
        tree = self._trees.get(image.manifest_digest)
        if tree is None:
            from rootless_build.build.imagefs import ImageFS

            tree = self._trees[image.manifest_digest] = ImageFS.of_image(self.store, image)
        return tree, label

    # -- the result ------------------------------------------------------------------------

    def _finish(self, image):
        if self.options.labels:
            config, layers = ic.from_image(image)
            labels = dict(ic.container(config).get("Labels") or {})
            labels.update(self.options.labels)
            ic.container(config)["Labels"] = labels
            image = self.write_image(config, layers)
        names = self.tags
        self.progress.commit(names)
        already = set(self.store.tags_by_digest().get(image.manifest_digest, ()))
        for name in names:
            if name not in already:  # a rebuild that changed nothing writes nothing
                self.store.tag(image, name)
        if not names:
            self.store.add_untagged(image)
        self.progress.produced(image.id)
        for name in names:
            self.progress.tagged(name)
        if self.options.iidfile:
            _write_iidfile(self.options.iidfile, image.id)
        self.progress.image_id(image.id)
        return self.store.load_image(image.manifest_digest, tuple(names))


def _normalize(tag: str) -> str:
    from rootless_build.store import names

    try:
        return names.normalize(tag)
    except RootlessBuildError as e:
        raise UsageError(f"invalid tag {tag!r}: {e}") from None


def _write_iidfile(path: str, image_id: str) -> None:
    try:
        with open(path, "w") as f:
            f.write(image_id)
    except OSError as e:
        raise UsageError(f"cannot write --iidfile {path}: {e.strerror}") from None

