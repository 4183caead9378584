"""VOLUME: declare the paths in the config. With --compat-volumes (buildah's flag: what a
RUN writes beneath a volume is discarded, as in docker's classic builder, handlers/run),
a declared path the image lacks is also created here, 0755 root, as the mount point
the classic builder leaves in the image at the next RUN."""

from __future__ import annotations

from rootless_build.builder.handlers.workdir import missing_dirs, write_dirs
from rootless_build.builder.history import nop
from rootless_build.builder.patterns import go_clean
from rootless_build.errors import RootlessBuildError
from rootless_build.oci import config as ic


def handle_volume(step) -> None:
    instr = step.expanded()
    missing: list[str] = []
    if step.ctx.options.compat_volumes:
        try:
            lower = step.state.filesystem(step.store)
            for path in instr.paths:
                missing += [p for p in missing_dirs(lower, go_clean("/" + path)) if p not in missing]
        except RootlessBuildError as e:
            raise step.fail(str(e)) from None
    inputs = step.describe(instr) if not missing else {**step.describe(instr), "creates": missing}
    if step.use_cache(inputs):
        return
    config = ic.container(step.state.config)
    volumes = dict(config.get("Volumes") or {})
    for path in instr.paths:
        volumes[path] = {}
    config["Volumes"] = volumes
    if missing:
        write_dirs(step, missing, (0, 0))
    step.commit(nop(step.instruction.original), empty_layer=not missing)
