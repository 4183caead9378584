"""Which stages to build, and where each one starts (scratch, an image, an earlier stage).

Like BuildKit, only the target stage and the stages it depends on are built: through
`FROM <stage>`, `COPY --from=<stage>` and `RUN --mount=from=<stage>`. A name that is no
earlier stage is an image reference, found by `find_base_image`.
"""

from __future__ import annotations

import sys

from rootless_build.dockerfile.dockerfile import Dockerfile, Stage
from rootless_build.dockerfile.expand import ExpansionError, expand_word
from rootless_build.dockerfile.mounts import parse_mount
from rootless_build.errors import ImageNotFound, UsageError
from rootless_build.record import Record


class BaseImageNotFound(ImageNotFound):
    pass


def find_base_image(store, ref: str, *, pull: bool | str = False, options=None, platform: str | None = None):
    """The stored image a FROM or --from names, pulled when the store lacks it (or the pull
    policy asks the registry every time: `build --pull`). `options` (BuildOptions) carries
    the pull policy, the platform, -q and how to reach registries; a failed pull is one
    line naming the reference and the reason."""
    from rootless_build.builder.options import BuildOptions

    if options is None:
        options = BuildOptions(pull=pull)
    platform = platform or options.platform
    key = f"{ref}|{platform}" if platform else ref
    found = options.found_images.get(key)
    if found is None:
        found = options.found_images[key] = _find(store, ref, options, platform)
    return found


def _find(store, ref: str, options, platform: str | None):
    policy = options.pull_policy()
    if policy in ("missing", "never"):
        try:  # the common case: no registries.conf read, nothing imported
            image = store.resolve(ref)
            if platform is None:
                return _host_image(store, ref, image)
            if image_matches(image, platform):
                return image
            if policy == "never":
                raise BaseImageNotFound(f"{ref} is stored for {image_platform(image)}, not {platform} "
                                        "(and the pull policy is \"never\")")
        except ImageNotFound:
            if policy == "never":
                raise BaseImageNotFound(f"image not known: {ref} (and the pull policy is \"never\")") from None
    from rootless_build.registry.ensure import ensure_image
    from rootless_build.registry.progress import for_terminal

    progress = for_terminal(options.quiet, sys.stderr)
    try:
        return ensure_image(store, ref, pull_policy=policy, platform=platform,
                            options=options.registry_options(), progress=progress)
    finally:
        progress.close()


def _host_image(store, ref: str, image):
    """No --platform: the host's image when the name was last pulled for another platform
    (a multi-platform build moved it) and the host's is still stored; else the image."""
    from rootless_build.builder.platform import format_platform, host_platform

    host = format_platform(*host_platform())
    if image_matches(image, host):
        return image
    from rootless_build.registry.ensure import from_pulled_index

    return from_pulled_index(store, ref, None, host) or image


def image_platform(image) -> str:
    """os/arch[/variant] of a stored image, from its config."""
    found = image.platform
    return "/".join(part for part in (found.os, found.architecture, found.variant) if part)


def image_matches(image, platform: str) -> bool:
    from rootless_build.oci import platform as platforms

    return image.is_for(platforms.parse(platform))


class BaseRef(Record, frozen=True):
    kind: str  # "scratch", "stage", "image"
    name: str  # the image reference or stage name as expanded
    stage: int | None = None


def earlier_stage(dockerfile: Dockerfile, ref: str, before: int) -> Stage | None:
    stage = dockerfile.stage(ref)
    if stage is not None and stage.index < before:
        return stage
    return None


def base_of(dockerfile: Dockerfile, stage: Stage, global_env: dict[str, str]) -> BaseRef:
    image = expand_word(stage.from_.image, global_env, dockerfile.escape)
    if not image:
        raise UsageError(f"FROM {stage.from_.image}: base name should not be blank")
    if image.lower() == "scratch":
        return BaseRef("scratch", "scratch")
    earlier = earlier_stage(dockerfile, image, stage.index)
    if earlier is not None:
        return BaseRef("stage", image, earlier.index)
    return BaseRef("image", image)


def target_stage(dockerfile: Dockerfile, target: str | None) -> Stage:
    if target is None:
        return dockerfile.stages[-1]
    stage = dockerfile.stage(target)
    if stage is None:
        raise UsageError(f"target stage {target!r} could not be found")
    return stage


def _from_names(dockerfile: Dockerfile, stage: Stage, env: dict[str, str]) -> list[tuple[str, str]]:
    """What COPY --from and RUN --mount=from= name: (as written, expanded), the expansion a
    best effort before the stage's ARGs are known."""
    names: list[tuple[str, str]] = []
    for instr in stage.instructions:
        raw: list[str] = []
        source = getattr(instr, "from_", None)
        if source:
            raw.append(source)
        for spec in getattr(instr, "mounts", ()) or ():
            try:
                mount = parse_mount(spec, env)
            except Exception:  # noqa: BLE001 - the RUN step reports a bad mount itself
                continue
            if mount.from_:
                raw.append(mount.from_)
        for name in raw:
            try:
                names.append((name, expand_word(name, env, dockerfile.escape)))
            except ExpansionError:
                continue
    return names


def _referenced_stages(dockerfile: Dockerfile, stage: Stage, env: dict[str, str]) -> set[int]:
    """Indexes of earlier stages this stage reads (best effort before ARGs are known)."""
    refs: set[int] = set()
    base = base_of(dockerfile, stage, env)
    if base.stage is not None:
        refs.add(base.stage)
    for _, name in _from_names(dockerfile, stage, env):
        found = earlier_stage(dockerfile, name, stage.index)
        if found is not None:
            refs.add(found.index)
    return refs


def image_sources(dockerfile: Dockerfile, stages: list[Stage]) -> list[str]:
    """The names the stages' COPY --from and RUN --mount=from= give, written out (no $ to
    expand), that are no earlier stage: images, or build contexts."""
    return sorted({name for stage in stages for raw, name in _from_names(dockerfile, stage, {})
                   if "$" not in raw and not name.isdigit()
                   and earlier_stage(dockerfile, name, stage.index) is None})


def stage_dependencies(dockerfile: Dockerfile, stages: list[Stage], global_env: dict[str, str]) -> dict[int, set[int]]:
    """For each stage, the stages it reads (FROM, COPY --from, RUN --mount=from=)."""
    return {stage.index: _referenced_stages(dockerfile, stage, global_env) for stage in stages}


def stages_to_build(dockerfile: Dockerfile, target: Stage, global_env: dict[str, str]) -> list[Stage]:
    """The target and everything it depends on, in Dockerfile order."""
    needed: set[int] = set()
    pending = [target.index]
    while pending:
        index = pending.pop()
        if index in needed:
            continue
        needed.add(index)
        pending.extend(_referenced_stages(dockerfile, dockerfile.stages[index], global_env))
    return [s for s in dockerfile.stages if s.index in needed]
