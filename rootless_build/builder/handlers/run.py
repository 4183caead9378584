"""RUN: the command run in the sandbox over the stage's layers; its changes become a layer.

Everything the sandbox needs is gathered into a RunRequest: the command (SHELL + shell
form, or exec form; heredocs as BuildKit runs them), the environment docker gives a RUN
(image Env plus the ARGs in scope, and the proxy build args), WORKDIR, USER, --mount and
--network, the stage's layer chain (chain ids name the unpacked lower dirs) and the cache
inputs. `execute_run(store, request)` runs it inside the user namespace (the CLI re-executes
the build there when the Dockerfile has a RUN) and returns the layer, or None when the step
changed nothing (an empty_layer history entry, as buildah writes).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from rootless_build.builder.history import run_created_by
from rootless_build.builder.patterns import go_clean
from rootless_build.dockerfile.heredoc import parse_heredoc_word
from rootless_build.dockerfile.mounts import parse_mount
from rootless_build.errors import BuildError, RootlessBuildError
from rootless_build.oci import config as ic
from rootless_build.oci.digest import chain_ids
from rootless_build.oci.partial import config_diff_ids
from rootless_build.record import Record, asdict, field

TAIL_LINES = 10
INSECURE = "security.insecure"   # buildx's entitlement for RUN --security=insecure
HEREDOC_DIR = "/dev/pipes"      # where BuildKit puts a heredoc script that has a #! line


class RunRequest(Record, frozen=True):
    command: list[str]  # as written: SHELL + the line (history), or the exec form
    env: list[str]  # K=V, in docker's order: image Env, then build args not overridden
    workdir: str
    user: str  # "" = root
    argv: list[str] = field(factory=list)  # what is executed (heredocs applied)
    script: tuple[str, str] | None = None  # (name, content): a `#!` heredoc run as a file
    mounts: tuple = ()  # dockerfile.mounts.Mount values, expanded
    network: str = "default"  # default (host network, rootless), none, host
    security: str = "sandbox"  # sandbox (docker's defaults) or insecure (--allow security.insecure)
    heredocs: tuple = ()  # dockerfile.heredoc.Heredoc: bodies of `<<EOF` words
    diff_ids: tuple[str, ...] = ()  # the stage's layers, bottom up
    chain_ids: tuple[str, ...] = ()
    layers: tuple[dict, ...] = ()  # manifest descriptors of the stage's layers
    secrets: dict = field(factory=dict)  # --secret id -> file
    secret_envs: dict = field(factory=dict)  # --secret id -> environment variable (read when mounted)
    ssh: dict = field(factory=dict)  # --ssh id -> agent socket
    options: object = None  # the BuildOptions: --add-host, --shm-size, --ulimit, --cap-add/--cap-drop
    build_args: dict = field(factory=dict)  # the args in scope (history, cache)
    storage_driver: str | None = None
    isolation: str | None = None  # forced by --isolation (or its defaults); None: probed
    context: object = None  # the BuildContext: --mount=type=bind without from= binds from it
    source_image: Callable[[str], object] | None = None  # from=stage|index|image -> store Image
    warn: Callable[[str], None] | None = None
    extracting: Callable[[str], None] | None = None  # told of each base layer this step unpacks
    quiet: bool = False  # -q: the step's output is not shown (its last lines still are on failure)
    epoch: int | None = None  # SOURCE_DATE_EPOCH: clamps the layer's mtimes
    discard_under: tuple[str, ...] = ()  # --compat-volumes: declared volumes, relative paths


class NeedsUserNamespace(RootlessBuildError):
    """A RUN was met outside the user namespace (e.g. an ONBUILD RUN of a base image): the
    CLI then runs the whole build again inside it; the steps done so far come from cache."""

    def __init__(self) -> None:
        super().__init__("RUN needs the user namespace: run the build through the CLI")


def run_argv(shell: list[str], instr) -> tuple[list[str], tuple[str, str] | None]:
    """The argv to execute and, for a `#!` heredoc, the script file to provide (BuildKit's
    rules: a line that is only `<<EOF` runs the body with the shell, or as a file when it
    starts with `#!`; any other line goes to the shell with its heredocs appended)."""
    if not instr.shell_form:
        return list(instr.args), None
    if not instr.heredocs:
        return [*shell, *instr.args], None
    line = instr.args[0] if instr.args else ""
    if parse_heredoc_word(line) is not None:
        doc = instr.heredocs[0]
        if doc.content.startswith("#!"):
            return [f"{HEREDOC_DIR}/{doc.name}"], (doc.name, doc.content)
        return [*shell, doc.content], None
    return [*shell, line + "".join(f"\n{h.content}{h.name}" for h in instr.heredocs)], None


def run_request(step, instr) -> RunRequest:
    state = step.state
    config = state.config
    ctx = step.ctx
    image_env = ic.env_map(config)
    args = state.args.env()
    env = ic.env_list(config) + [f"{k}={v}" for k, v in {**ctx.build_args.proxy_env(), **args}.items()
                                 if k not in image_env]
    command = [*ic.shell(config), *instr.args] if instr.shell_form else list(instr.args)
    argv, script = run_argv(ic.shell(config), instr)
    expansion_env = state.env()
    mounts = tuple(parse_mount(spec, expansion_env, instr.escape) for spec in instr.mounts)
    diff_ids = tuple(config_diff_ids(config))
    security = instr.security or "sandbox"
    if security == "insecure" and INSECURE not in ctx.options.allow:
        raise BuildError(f"RUN --security=insecure needs the build to allow it: --allow {INSECURE}")
    return RunRequest(
        command=command, env=env, workdir=ic.workdir(config), user=ic.container(config).get("User") or "",
        argv=argv, script=script, mounts=mounts, network=instr.network or ctx.options.network or "default",
        security=security, heredocs=tuple(instr.heredocs), diff_ids=diff_ids,
        chain_ids=tuple(chain_ids(list(diff_ids))), layers=tuple(state.layers),
        secrets=dict(ctx.options.secrets), secret_envs=dict(ctx.options.secret_envs),
        ssh=dict(ctx.options.ssh), options=ctx.options, build_args=args,
        storage_driver=ctx.options.storage_driver, isolation=ctx.options.isolation,
        context=ctx.build_context if any(m.type == "bind" and not m.from_ for m in mounts) else None,
        source_image=ctx.source_image, warn=ctx.progress.warn,
        extracting=ctx.progress.extracting, quiet=ctx.options.quiet,
        epoch=ctx.layer_epoch,
        discard_under=_volumes(config) if ctx.options.compat_volumes else ())


def _volumes(config) -> tuple[str, ...]:
    volumes = ic.container(config).get("Volumes") or {}
    return tuple(sorted(p for p in (go_clean("/" + v).lstrip("/") for v in volumes) if p))


def _under(volumes: tuple[str, ...]) -> Callable[[str], bool]:
    """The layer writer's skip test: what a RUN wrote beneath a declared volume."""
    prefixes = tuple(v + "/" for v in volumes)
    return lambda arcname: arcname.startswith(prefixes)


def cache_inputs(request: RunRequest, step) -> dict:
    """A RUN is cached on its parent (in the key), command, env, args, user, dir, mounts
    and what its bind mounts show; never on a secret."""
    visible = [m for m in request.mounts if m.type != "secret"]
    if visible:
        from rootless_build.builder.runmounts import source_identity
    return {"command": request.command, "env": request.env, "workdir": request.workdir,
            "user": request.user, "network": request.network,
            **({"security": request.security} if request.security != "sandbox" else {}),
            "mounts": [asdict(m) for m in visible],
            "sources": [source_identity(request, m) for m in visible],
            "heredocs": [[h.name, h.content, h.expand] for h in request.heredocs],
            "original": step.instruction.original,
            **({"discard_under": list(request.discard_under)} if request.discard_under else {})}


def _output(quiet: bool) -> Callable[[bytes], None]:
    prefix = os.environ.get("ROOTLESS_BUILD_PROGRESS_PREFIX", "").encode()
    at_line_start = [True]

    def show(chunk: bytes) -> None:
        sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()

    def show_prefixed(chunk: bytes) -> None:
        # A stage built beside others: each line of its output names the stage.
        lines = chunk.split(b"\n")
        out = [(prefix if at_line_start[0] and lines[0] else b"") + lines[0]]
        out += [prefix + line if line else line for line in lines[1:]]
        at_line_start[0] = chunk.endswith(b"\n")
        show(b"\n".join(out))

    def show_json(chunk: bytes) -> None:
        from rootless_build.builder.progress import emit_json

        stage = prefix.decode().strip()[1:-1]
        data = chunk.decode(errors="replace")
        if stage:
            emit_json("log", data=data, stage=stage)
        else:
            emit_json("log", data=data)

    if quiet or os.environ.get("ROOTLESS_BUILD_PROGRESS") == "quiet":
        return lambda chunk: None
    if os.environ.get("ROOTLESS_BUILD_PROGRESS") == "rawjson":
        return show_json
    return show_prefixed if prefix else show


def _failure(exit_code: int, last_lines: list[str]) -> str:
    """`exit status N`, then the step's last output lines (and what a single-id namespace
    means when the output suggests an id change was refused)."""
    from rootless_build.sandbox.diagnose import single_id_hint
    from rootless_build.sandbox.idmap import read_proc_map

    lines = [f"exit status {exit_code}", *(f"  {line}" for line in last_lines)]
    tail = "\n".join(last_lines)
    uid_map = read_proc_map("uid")
    if len(uid_map) == 1 and uid_map[0].count == 1 and (
            "Invalid argument" in tail or "Operation not permitted" in tail):
        lines.append("hint: only one id is mapped in the user namespace, so chown or a change to "
                     f"another user fails (potentially insufficient UIDs); {single_id_hint()}")
    return "\n".join(lines)


def _remove_shielded(path: Path) -> None:
    """Remove the step's dir (sub-id owned files, overlay's mode-000 work dir: we are root of
    the namespace, so we can) without letting a second Ctrl-C stop us half-way."""
    from rootless_build.store.trees import remove_tree

    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        remove_tree(path)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def execute_run(store, request: RunRequest):
    """Run the step in the sandbox and return its layer (a layerwrite.WrittenLayer: a temp
    blob; `keep` it), or None
    if it changed nothing. Raises BuildError on a non-zero exit, StepInterrupted on
    SIGINT/SIGTERM (everything cleaned up), NeedsUserNamespace outside the namespace."""
    from rootless_build.builder.layerwrite import WrittenLayer
    from rootless_build.builder.runmounts import prepare_mounts
    from rootless_build.sandbox import isolation
    from rootless_build.sandbox.seccomp import user_cache_dir
    from rootless_build.sandbox.spec import Mount as SandboxMount
    from rootless_build.sandbox.step import StepSpec, run_step
    from rootless_build.store.unpacked import ensure_unpacked, flat_lowers
    from rootless_build.store.upperlayer import adopt_as_unpacked, discard, write_upper_layer

    plan = isolation.choose(store.tmp_dir, request.isolation, request.storage_driver, shared_cache=store.cache_dir)
    if not isolation.enter(plan, warn=None):
        raise NeedsUserNamespace()
    _note_once(plan)
    driver = plan.driver
    blobs = [layer["digest"] for layer in request.layers]
    if driver == "vfs":     # one plain tree to copy: no overlay whiteout on disk
        lowers = flat_lowers(store, list(request.chain_ids), blobs, warn=request.warn)
    else:
        lowers = list(reversed(ensure_unpacked(store, list(request.chain_ids), blobs, warn=request.warn,
                                               extracting=request.extracting)))
    import tempfile  # lazily: a cached RUN never gets here (see store/atomic.py)

    base = Path(tempfile.mkdtemp(dir=store.tmp_dir, prefix="run-"))
    try:
        upper = base / "upper"
        upper.mkdir(mode=0o755)
        os.chmod(upper, 0o755)      # the container's / (whatever our umask)
        with ExitStack() as stack:
            mounts, secret_env = prepare_mounts(store, request, base / "mounts", stack)
            if request.script is not None:
                mounts.append(SandboxMount("bind", f"{HEREDOC_DIR}/{request.script[0]}",
                                           source=_write_script(base, request.script[1])))
            result = run_step(StepSpec(
                lowerdirs=lowers, upperdir=upper, workdir=base / "step", argv=request.argv,
                driver=driver, env=[*request.env, *secret_env], cwd=request.workdir, user=request.user,
                network="none" if request.network == "none" else "host", mounts=mounts,
                output=_output(request.quiet), tail_lines=TAIL_LINES, volatile=True,
                hardening=_hardening(request), seccomp_cache=user_cache_dir(),
                isolation="chroot" if plan.isolation == "chroot" else "oci", chroot_mounts=plan.chroot_mounts,
                **_limits(request.options)))
        if result.exit_code != 0:
            raise BuildError(_failure(result.exit_code, result.last_lines))
        layer = write_upper_layer(store, upper, driver, lowerdirs=lowers,
                                  source_date_epoch=request.epoch,
                                  skip=_under(request.discard_under) if request.discard_under else None)
        if layer.entries == 0:
            discard(layer)
            return None
        try:
            if not request.discard_under:  # else the upper dir holds what the layer left out
                adopt_as_unpacked(store, upper, driver, chain_ids([*request.diff_ids, layer.diff_id])[-1])
        except OSError:
            pass        # only a shortcut: a later step extracts the layer from its blob instead
        except BaseException:
            discard(layer)
            raise
    finally:
        _remove_shielded(base)
    return WrittenLayer(layer.diff_id, layer.size, layer.blob)


def _limits(options) -> dict:
    """The build's --add-host, --shm-size and --ulimit for the StepSpec."""
    if options is None:
        return {}
    return {"extra_hosts": list(options.add_hosts), "shm_size": options.shm_size,
            "rlimits": list(options.ulimits)}


def _hardening(request):
    """docker's defaults for RUN, with the build's --cap-add/--cap-drop; everything for
    RUN --security=insecure (allowed by --allow security.insecure)."""
    from rootless_build.sandbox.hardening import PRIVILEGED, Hardening, resolve_caps

    if request.security == "insecure":
        return PRIVILEGED
    options = request.options
    if options is None or not (options.cap_add or options.cap_drop):
        return Hardening()
    return Hardening(caps=resolve_caps(list(options.cap_add), list(options.cap_drop)))


NOTED_ENV = "_ROOTLESS_BUILD_NOTED"


def _note_once(plan) -> None:
    """What this place cannot give, said once per build (a re-executed build knows it was)."""
    if os.environ.get(NOTED_ENV) or not plan.notes:
        return
    os.environ[NOTED_ENV] = "1"
    # On stderr, as the user namespace's own warnings always were (not the step output).
    sys.stderr.write(f"rootless-build: warning: {plan.describe()}: {'; '.join(plan.notes)}\n")
    sys.stderr.flush()


def _write_script(base: Path, content: str) -> Path:
    path = base / "script"
    path.write_text(content, encoding="utf-8", errors="surrogateescape")
    path.chmod(0o755)
    return path


def handle_run(step) -> None:
    instr = step.instruction
    try:
        request = run_request(step, instr)
        inputs = cache_inputs(request, step)
    except RootlessBuildError as e:
        raise step.fail(str(e)) from None
    if step.use_cache(inputs):
        return
    from rootless_build.builder.platform import require_runnable
    from rootless_build.sandbox.spec import StepInterrupted

    try:
        require_runnable(str(step.state.config.get("architecture") or ""))
    except RootlessBuildError as e:
        raise step.fail(str(e)) from None

    try:
        written = execute_run(step.store, request)
    except (StepInterrupted, NeedsUserNamespace):
        raise
    except RootlessBuildError as e:
        raise step.fail(str(e)) from None
    if written is not None:
        from rootless_build.builder.layerwrite import keep

        keep(step.store, written)
        step.add_layer(written.diff_id, written.size)
    created_by = run_created_by(request.command, request.build_args)
    step.commit(created_by, empty_layer=written is None)
