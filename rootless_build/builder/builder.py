"""Dockerfile -> image: parse, pick the stages, run each step through its handler, tag.

    image = build(store, BuildOptions(context_dir=".", tags=["app:1.0"]))
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rootless_build.builder import resultfiles
from rootless_build.builder.args import BuildArgs, StageArgs
from rootless_build.builder.cache import StepCache
from rootless_build.builder.dockerfilesource import read_dockerfile
from rootless_build.builder.handlers import handler_for
from rootless_build.builder.history import build_epochs
from rootless_build.builder.options import BuildOptions
from rootless_build.builder.platform import (
    check_platform,
    format_platform,
    predefined_args,
)
from rootless_build.builder.progress import Progress
from rootless_build.builder.stages import (
    BaseRef,
    base_of,
    earlier_stage,
    find_base_image,
    stages_to_build,
    target_stage,
)
from rootless_build.builder.step import StageState, Step
from rootless_build.dockerfile.dockerfile import (
    Dockerfile,
    Stage,
    parse,
    parse_instruction,
)
from rootless_build.dockerfile.expanded import expanded
from rootless_build.errors import (
    BuildError,
    DockerfileError,
    RootlessBuildError,
    UsageError,
)
from rootless_build.oci import config as ic

if TYPE_CHECKING:
    from rootless_build.builder.context import BuildContext
    from rootless_build.builder.imagefs import ImageFS


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
        self._named_trees: dict[str, BuildContext] = {}
        self._dockerfile_path: Path | None = None
        self.filename = "Dockerfile"
        self.dockerfile: Dockerfile | None = None
        self._prefetch: Any = None
        self.current_stage = 0  # --from names only stages before it; a later one is an image
        self.target_base_labels: dict[str, str] = {}  # the target stage's base labels (--inherit-labels)

    # -- the whole build ---------------------------------------------------------------

    def run(self):
        self.tags = [_normalize(tag) for tag in self.options.tags]
        if not Path(self.options.context_dir).is_dir():
            raise UsageError(f"build context {self.options.context_dir}: no such directory")
        text, self.filename, self._dockerfile_path = self._read_dockerfile()
        dockerfile = self.dockerfile = parse(text, self.filename)
        linting = _wants_lint(dockerfile, self.options)
        for warning in () if linting else dockerfile.warnings:  # lint has NoEmptyContinuation
            self.progress.warn(warning)
        for arg in dockerfile.meta_args:
            for definition in expanded(arg, self.build_args.global_env(), filename=self.filename).args:
                self.build_args.declare_global(definition.name, definition.default)
        target = target_stage(dockerfile, self.options.target)
        stages = stages_to_build(dockerfile, target, self.build_args.global_env())
        bases = {stage.index: self._base(stage) for stage in stages}
        if linting:
            self._lint(text)
        self.total = sum(1 + len(stage.instructions) + len(self._triggers(bases[stage.index]))
                         for stage in stages)
        self.number = 0
        self._prefetch = self._prefetcher(stages, target)
        try:
            with self.store.writing():
                for stage in stages:
                    prebuilt = self._prefetch is not None and self._prefetch.before_stage(stage.index)
                    self.stage_images[stage.index] = self._build_stage(stage, bases[stage.index],
                                                                       last=stage is target, prebuilt=prebuilt)
                    if self._prefetch is not None:
                        self._prefetch.built.add(stage.index)
                self.step_cache.export()
                image = self._finish(self.stage_images[target.index])
                if self.options.sbom or self.options.sbom_output or self.options.provenance:
                    from rootless_build.builder.attest import attest

                    attest(self, image, bases)
        except BaseException:    # (a failed child stops this build with a SIGTERM to itself)
            failure = self._prefetch.failure if self._prefetch is not None else None
            if failure is None:
                raise
            raise BuildError(failure) from None   # a stage built beside this one failed
        finally:
            if self._prefetch is not None:
                self._prefetch.stop()
            if "context" in self.__dict__:
                self.context.save()
                self.context.close()
            for named in self._named_trees.values():
                named.save()
                named.close()
            for tree in self._trees.values():
                tree.close()
        unused = [name for name in self.build_args.unused() if name != "BUILDKIT_DOCKERFILE_CHECK"]
        if unused:
            self.progress.warn(f"one or more build-args [{' '.join(unused)}] were not consumed")
        return image

    @cached_property
    def context(self) -> BuildContext:
        """The build context, read when a step first needs it (COPY, ADD, RUN --mount=type=bind):
        a build without one imports none of the context code."""
        from rootless_build.builder.context import BuildContext

        return BuildContext.load(self.options.context_dir, self._dockerfile_path, self.store,
                                 ignorefile=self.options.ignorefile)

    def _lint(self, text: str) -> None:
        """BuildKit's lint warnings in the build output; `# check=error=true` fails the build."""
        from rootless_build.builder.lint import run_lint

        result = run_lint(self.store, self.options, text, self.filename, self._dockerfile_path)
        for warning in () if self.progress.resumed else result.warnings:  # shown once, by the parent
            self.progress.warn(warning.describe(self.filename))
        failure = result.failure()
        if failure:
            raise DockerfileError(failure, self.filename, result.warnings[0].line)

    def _read_dockerfile(self) -> tuple[str, str, Path | None]:
        return read_dockerfile(self.options)

    # -- stages --------------------------------------------------------------------------

    def _fail(self, instruction, reason: str) -> BuildError:
        return BuildError(f"{self.filename}:{instruction.line}: {instruction.original}: {reason}")

    def _base(self, stage: Stage) -> tuple[BaseRef, object]:
        """Where the stage starts, and the stored image when it starts from one."""
        try:
            from_ = expanded(stage.from_, self.build_args.global_env(), filename=self.filename)
            ref = base_of(self.dockerfile, stage, self.build_args.global_env())
            if ref.kind == "image":
                # FROM --platform=$BUILDPLATFORM: that platform's image, else the target's
                platform = format_platform(*check_platform(from_.platform or self.options.platform))
                return ref, find_base_image(self.store, self._named_image(ref.name), options=self.options,
                                            platform=platform)
            return ref, None
        except RootlessBuildError as e:
            raise self._fail(stage.from_, str(e)) from None

    def _triggers(self, base: tuple[BaseRef, object]) -> list[str]:
        """The ONBUILD triggers a stage runs first: its base image's, or (as BuildKit) those
        of the earlier stage it starts from. Before that stage is built, their count is
        known from its ONBUILD lines (it runs, and drops, the triggers it inherits)."""
        ref, image = base
        if ref.kind == "stage" and ref.stage is not None:
            image = self.stage_images.get(ref.stage)
            if image is None:
                return [i.original for i in self.dockerfile.stages[ref.stage].instructions
                        if i.keyword == "ONBUILD"]
        if ref.kind == "scratch" or image is None:
            return []
        inner = image.config_json.get("config")
        triggers = inner.get("OnBuild") if isinstance(inner, dict) else None
        return [t for t in triggers if isinstance(t, str)] if isinstance(triggers, list) else []

    def _prefetcher(self, stages: list[Stage], target: Stage) -> Any:
        """Independent stages built at once (--jobs), when the graph allows any."""
        # Default: every ready stage, up to the cores or four (RUN steps often wait on I/O).
        jobs = self.options.jobs or max(os.cpu_count() or 1, 4)
        if jobs == 1 or len(stages) < 3:      # two stages: the second needs the first
            return None
        from rootless_build.builder.prefetch import StagePrefetcher, resolve_images
        from rootless_build.builder.stages import image_sources, stage_dependencies

        assert self.dockerfile is not None  # parsed before any stage is planned
        deps = stage_dependencies(self.dockerfile, stages, self.build_args.global_env())
        sources = image_sources(self.dockerfile, [s for s in stages if s.index != target.index])
        prefetch = StagePrefetcher(str(self.store.root), self.options, stages, deps, target.index, jobs,
                                   lambda: resolve_images(self.store, self.options, sources, self._named_image))
        return prefetch if prefetch.worth_it() else None

    def work_ahead(self) -> None:
        """A step misses the cache: work starts, so other ready stages may start beside it."""
        if self._prefetch is not None:
            self._prefetch.kick()

    def _build_stage(self, stage: Stage, base: tuple[BaseRef, object], *, last: bool, prebuilt: bool = False):
        ref, image = base
        self.current_stage = stage.index
        self.progress.stage(stage.name or f"stage-{stage.index}",
                            1 + len(stage.instructions) + len(self._triggers(base)))
        self._announce(stage.from_.original)
        state = self._start(ref, image)
        if last:
            self.target_base_layers = len(state.layers)  # what --squash keeps
            self.target_base_labels = dict(ic.container(state.config).get("Labels") or {})
        state.no_cache = _named_in(stage, self.options.no_cache_stages)
        state.prebuilt = prebuilt
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

    def write_image(self, config: dict[str, Any], layers: list[dict[str, Any]], *, docker: bool = False) -> Any:
        # Descriptors we made or read from a stored manifest: no model (pydantic) needed.
        return self.store.write_image(ic.to_bytes(config), layers, docker=docker)

    def _final_config(self, image: Any) -> Any:
        edited = resultfiles.edited_result(image, self.options, self.target_base_labels)
        if edited is None:
            return image
        config, layers = edited
        return self.store.write_image(ic.to_bytes(config), layers, annotations=self.options.annotations or None)

    def _as_docker(self, image: Any) -> Any:
        """`--format docker`: Docker schema 2 media types for the manifest, config and layers
        (the config itself is the same: HEALTHCHECK, ONBUILD and SHELL are in both)."""
        from rootless_build.oci import mediatypes as mt

        config, layers = ic.from_image(image)
        for layer in layers:
            layer["mediaType"] = mt.docker_layer_type(mt.layer_compression(layer["mediaType"]))
        return self.store.write_image(ic.to_bytes(config), layers, docker=True, annotations=image.annotations)

    def source_image(self, ref: str):
        """What `--from=ref` names: an earlier stage (by name or index) or an image."""
        stage = earlier_stage(self.dockerfile, ref, self.current_stage)
        if stage is None:
            return find_base_image(self.store, self._named_image(ref), options=self.options)
        if stage.index not in self.stage_images:
            raise BuildError(f"stage {ref} has not been built (a stage can only copy from earlier stages)")
        return self.stage_images[stage.index]

    def source_tree(self, ref: str) -> tuple[ImageFS, str]:
        """The filesystem `COPY --from=ref` reads."""
        named = self.options.build_contexts.get(ref.lower())
        is_stage = earlier_stage(self.dockerfile, ref, self.current_stage) is not None
        if named is not None and named[0] == "dir" and not is_stage:
            return self._named_directory(ref.lower(), named[1]), f"build context {ref}"
        image = self.source_image(ref)
        label = f"stage {ref}" if is_stage else f"image {ref}"
        tree = self._trees.get(image.manifest_digest)
        if tree is None:
            from rootless_build.builder.imagefs import ImageFS

            tree = self._trees[image.manifest_digest] = ImageFS.of_image(self.store, image)
        return tree, label

    def _named_image(self, ref: str) -> str:
        """The image a --build-context NAME=docker-image://REF stands for (else `ref`)."""
        named = self.options.build_contexts.get(ref.lower())
        if named is None:
            return ref
        if named[0] != "image":
            raise BuildError(f"build context {ref} is a directory: use it in COPY --from={ref}, not as an image")
        return named[1]

    def _named_directory(self, name: str, path: str):
        """A --build-context directory read by COPY --from (its own .dockerignore applies)."""
        if name not in self._named_trees:
            from rootless_build.builder.context import BuildContext

            self._named_trees[name] = BuildContext.load(path, None, self.store)
        return self._named_trees[name]

    # -- the result ------------------------------------------------------------------------

    def _finish(self, image):
        image = self._final_config(image)
        if self.options.squash:
            from rootless_build.builder.squash import squash

            image = squash(self, image, base_layers=0 if self.options.squash == "all" else self.target_base_layers)
        if self.options.format == "docker":
            image = self._as_docker(image)
        if not self.options.record_result:
            return image                # a stage built for a parallel build: the cache has it
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
            resultfiles.write_iidfile(self.options.iidfile, image.id)
        if self.options.metadata_file:
            resultfiles.write_metadata(self.options.metadata_file, image, names)
        self.progress.image_id(image.id)
        return self.store.load_image(image.manifest_digest, tuple(names))


def _normalize(tag: str) -> str:
    from rootless_build.store import names

    try:
        return names.normalize(tag)
    except RootlessBuildError as e:
        raise UsageError(f"invalid tag {tag!r}: {e}") from None


def _named_in(stage: Stage, names: list[str]) -> bool:
    """--no-cache-filter: a stage by its name or its index."""
    return bool(names) and ((stage.name is not None and stage.name in names) or str(stage.index) in names)


def _wants_lint(dockerfile: Dockerfile, options: BuildOptions) -> bool:
    """Lint during a build when the Dockerfile asks (`# check=`), or BUILDKIT_DOCKERFILE_CHECK
    or RB_LINT=1 does: always would add ~9 ms to a 45-65 ms cached build (see build/lint.py)."""
    import os

    return ("check" in dockerfile.directives or "BUILDKIT_DOCKERFILE_CHECK" in options.build_args
            or os.environ.get("RB_LINT") == "1")
