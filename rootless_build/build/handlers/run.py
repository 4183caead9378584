"""RUN: the seam where the sandbox plugs in.

Everything the sandbox needs is gathered here into a RunRequest: the command (SHELL +
shell form, or exec form; heredocs), the environment docker gives a RUN (image Env plus
the ARGs in scope, and the proxy build args), WORKDIR, USER, --mount and --network, the
stage's layer chain (diff ids; chain ids name the unpacked lower dirs), and the cache
inputs. `execute_run(request)` is the one function the sandbox implements: it runs the
step over the lower layers with an empty upper dir and returns the upper dir as a layer
(diff id, size, temp blob path), or None when nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from rootless_build.build import imageconfig as ic
from rootless_build.build.history import run_created_by
from rootless_build.dockerfile.mounts import parse_mount
from rootless_build.errors import BuildError
from rootless_build.oci.digest import chain_ids


@dataclass(frozen=True)
class RunRequest:
    command: list[str]  # argv to execute
    env: list[str]  # K=V, in docker's order: image Env, then build args not overridden
    workdir: str
    user: str  # "" = root
    mounts: tuple = ()  # dockerfile.mounts.Mount values, expanded
    network: str = "default"  # default (host network, rootless), none, host
    heredocs: tuple = ()  # dockerfile.heredoc.Heredoc: bodies of `<<EOF` words
    diff_ids: tuple[str, ...] = ()  # the stage's layers, bottom up
    chain_ids: tuple[str, ...] = ()
    layers: tuple[dict, ...] = ()  # manifest descriptors of the stage's layers
    secrets: dict = field(default_factory=dict)  # --secret id -> file
    build_args: dict = field(default_factory=dict)  # the args in scope (history, cache)
    storage_driver: str | None = None
    context_dir: str = ""  # --mount=type=bind without from= binds from here (.dockerignore applies)
    source_image: Callable[[str], object] | None = None  # from=stage|index|image -> store Image


def run_request(step, instr) -> RunRequest:
    state = step.state
    config = state.config
    image_env = ic.env_map(config)
    args = state.args.env()
    env = ic.env_list(config) + [f"{k}={v}" for k, v in {**step.build.build_args.proxy_env(), **args}.items()
                                 if k not in image_env]
    if instr.shell_form:
        command = [*ic.shell(config), *instr.args]
    else:
        command = list(instr.args)
    expansion_env = state.env()
    mounts = tuple(parse_mount(spec, expansion_env, instr.escape) for spec in instr.mounts)
    diff_ids = tuple(config["rootfs"]["diff_ids"])
    return RunRequest(
        command=command, env=env, workdir=ic.workdir(config), user=ic.container(config).get("User") or "",
        mounts=mounts, network=instr.network or step.build.options.network or "default",
        heredocs=tuple(instr.heredocs), diff_ids=diff_ids, chain_ids=tuple(chain_ids(list(diff_ids))),
        layers=tuple(state.layers), secrets=dict(step.build.options.secrets), build_args=args,
        storage_driver=step.build.options.storage_driver, context_dir=str(step.build.context.root),
        source_image=step.build.source_image)


def cache_inputs(request: RunRequest, step) -> dict:
    """A RUN is cached on its parent (in the key), command, env, args, user, dir, mounts."""
    return {"command": request.command, "env": request.env, "workdir": request.workdir,
            "user": request.user, "network": request.network,
            "mounts": [m.__dict__ for m in request.mounts if m.type != "secret"],
            "heredocs": [[h.name, h.content, h.expand] for h in request.heredocs],
            "original": step.instruction.original}


class RunUnsupported(BuildError):
    pass


def execute_run(store, request: RunRequest):
    """THE SEAM. Run the step in the sandbox and return its layer, or None if it changed
    nothing. To implement (sandbox/, issue 4): unpack each of request.chain_ids that
    `store.is_unpacked()` lacks (layers' extract_layer(mode="overlay") inside the user
    namespace, then `store.mark_unpacked`); lowerdirs = [store.unpacked_path(c) for c in
    reversed(request.chain_ids)]; a fresh upper/work dir under store.tmp_dir; create
    request.workdir if missing; sandbox.run_step(StepSpec(lowerdirs, upper, work,
    request.command, env=request.env, cwd=request.workdir, user=request.user or "",
    network="none" if request.network == "none" else "host", mounts=...)); a non-zero
    exit is BuildError(f"{request.command...}: exit status N" + last lines); then write the
    upper dir with layers' write_tree(whiteout_format=driver) into a LayerSink over
    store.blobs.new_temp(), and return layerwrite.WrittenLayer(diff_id, size, temp, fd).
    """
    raise RunUnsupported("RUN is not supported yet (rootless execution comes with the sandbox); "
                         "build the files outside the image and COPY them in")


def handle_run(step) -> None:
    instr = step.instruction
    request = run_request(step, instr)
    if step.use_cache(cache_inputs(request, step)):
        return
    try:
        written = execute_run(step.store, request)
    except RunUnsupported as e:
        raise BuildError(f"{step.filename}:{instr.line}: {e}") from None
    except BuildError as e:
        raise step.fail(str(e)) from None
    if written is not None:
        step.store.blobs.adopt(written.temp_path, written.diff_id)
        step.add_layer(written.diff_id, written.size)
    created_by = run_created_by(request.command, request.build_args)
    step.commit(created_by, empty_layer=written is None)
