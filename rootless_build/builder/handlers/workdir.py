"""WORKDIR: set the working directory and, as BuildKit does, create it when the image
lacks it: a layer with the missing directories, 0755, owned by the stage's USER (the
same ids for the group when USER names none), dated now (clamped to SOURCE_DATE_EPOCH).

The config holds the path cleaned (`/tmp/` -> `/tmp`, `a/../b` -> `b`) as current
BuildKit writes it (Docker 20.10 kept it as written; docs/compat.md).
"""

from __future__ import annotations

from rootless_build.builder import fstree
from rootless_build.builder.fstree import DIR
from rootless_build.builder.history import nop
from rootless_build.errors import RootlessBuildError
from rootless_build.oci import config as ic


def workdir_path(step, written: str) -> str:
    return ic.with_workdir(ic.container(step.state.config), written)["WorkingDir"]


def handle_workdir(step) -> None:
    instr = step.expanded()
    path = workdir_path(step, instr.path)
    try:
        lower = step.state.filesystem(step.store)
        missing = missing_dirs(lower, path)
        owner = _owner(step, lower) if missing else (0, 0)
    except RootlessBuildError as e:
        raise step.fail(str(e)) from None
    inputs = {**step.describe(instr), "path": path, "creates": missing, "owner": list(owner)}
    if step.use_cache(inputs):
        return
    ic.container(step.state.config)["WorkingDir"] = path
    if missing:
        write_dirs(step, missing, owner)
    step.commit(nop(step.instruction.original), empty_layer=not missing)


def missing_dirs(lower, path: str) -> list[str]:
    """The directories to create for `path`, symlinks on the way followed in the image."""
    real = fstree.resolve(lower, path.lstrip("/"))
    parts = real.split("/") if real else []
    out = []
    for depth in range(1, len(parts) + 1):
        sub = "/".join(parts[:depth])
        node = lower.node(sub)
        if node is None:
            out.append(sub)
        elif node.kind != DIR:
            raise RootlessBuildError(f"cannot create /{sub}: a file is in the way")
    return out


def _owner(step, lower) -> tuple[int, int]:
    user = ic.container(step.state.config).get("User") or ""
    if not user:
        return 0, 0
    from rootless_build.builder.users import resolve_chown

    return resolve_chown(user, lower.read_text)


def write_dirs(step, missing: list[str], owner: tuple[int, int]) -> None:
    from rootless_build.builder.copyplan import CopyPlan, Entry
    from rootless_build.builder.layerwrite import keep, write_layer

    now = step.now()
    plan = CopyPlan([Entry(path, DIR, 0o755, owner[0], owner[1], now) for path in missing])
    written = write_layer(step.store, plan, epoch=step.ctx.layer_epoch)
    keep(step.store, written)
    step.add_layer(written.diff_id, written.size)
