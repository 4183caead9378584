"""`rootless-build build`: docker's and buildah's flags over build.builder.build()."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import click

from rootless_build.cli import common
from rootless_build.errors import UsageError


def _pairs(values: tuple[str, ...], flag: str, *, from_env: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        key, has_value, value = item.partition("=")
        if not key:
            raise UsageError(f"invalid {flag} {item!r}: expected KEY=VALUE")
        if not has_value:
            if not from_env:
                value = ""
            elif key in os.environ:
                value = os.environ[key]
            else:
                continue  # docker: `--build-arg K` with K unset passes nothing
        out[key] = value
    return out


def _secrets(values: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
    """--secret id=ID[,src=FILE|,env=VAR][,type=file|env] -> ({id: file}, {id: env var}).

    As buildx: type=env reads the variable named by env= (or src=, or the id); without
    src= and env= the id names a file. Only the variable's name is kept: its value is read
    when a RUN mounts the secret, so it never lands in the options, the cache or history."""
    files: dict[str, str] = {}
    envs: dict[str, str] = {}
    for item in values:
        fields = dict(part.partition("=")[::2] for part in item.split(","))
        secret_id = fields.get("id")
        kind = fields.get("type", "env" if fields.get("env") else "file")
        source = fields.get("src") or fields.get("source")
        if not secret_id:
            raise UsageError(f"invalid --secret {item!r}: expected id=ID,src=FILE or id=ID,env=VAR")
        if kind not in ("file", "env") or unknown_keys(fields):
            raise UsageError(f"invalid --secret {item!r}: keys are id, type (file or env), src, env")
        if kind == "env":
            variable = fields.get("env") or source or secret_id
            if variable not in os.environ:
                raise UsageError(f"--secret {item!r}: environment variable {variable} is not set")
            envs[secret_id] = variable
        else:
            files[secret_id] = os.path.abspath(source or secret_id)
    return files, envs


def unknown_keys(fields: dict[str, str]) -> set[str]:
    return set(fields) - {"id", "type", "src", "source", "env"}


@click.command("build", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("context", required=False, default=".")
@click.option("-t", "--tag", "tags", multiple=True, help="Name and optionally a tag (name:tag); repeatable.")
@click.option("-f", "--file", "dockerfile", metavar="PATH", help="Dockerfile to use ('-' reads stdin).")
@click.option("--build-arg", "build_args", multiple=True, metavar="KEY[=VALUE]", help="Set a build argument.")
@click.option("--target", help="Build this stage (and what it needs) only.")
@click.option("--no-cache", is_flag=True, help="Do not use cached steps (they are still recorded).")
@click.option("--pull", is_flag=True, help="Pull base images even when present.")
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", help="Add a label to the image.")
@click.option("--iidfile", metavar="FILE", help="Write the image ID to FILE.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the image ID.")
@click.option("--platform", help="Target platform (only this machine's is buildable).")
@click.option("--network", type=click.Choice(["default", "host", "none"]), help="Network for RUN steps.")
@click.option("--secret", "secrets", multiple=True, metavar="id=ID,src=FILE|env=VAR",
              help="A secret for RUN --mount=type=secret, from a file or an environment variable.")
@click.option("--ssh", "ssh", multiple=True, metavar="default|ID=SOCKET|ID=KEYFILE[,KEYFILE]",
              help="An ssh-agent socket (or keys loaded into a private agent) for RUN --mount=type=ssh.")
@click.option("--add-host", "add_hosts", multiple=True, metavar="HOST:IP", help="Add a line to RUN steps' /etc/hosts.")
@click.option("--shm-size", metavar="SIZE", help="Size of RUN steps' /dev/shm (default 64m).")
@click.option("--ulimit", "ulimits", multiple=True, metavar="NAME=SOFT[:HARD]", help="A resource limit for RUN steps.")
@click.option("--cap-add", "cap_add", multiple=True, metavar="CAP", help="A capability RUN steps keep.")
@click.option("--cap-drop", "cap_drop", multiple=True, metavar="CAP", help="A capability RUN steps lose (ALL: all).")
@click.option("--ignorefile", metavar="FILE", help="Use FILE instead of the context's .dockerignore.")
@click.option("--cache-ttl", metavar="DURATION", help="Rebuild cached steps older than this (e.g. 24h).")
@click.option("--no-cache-filter", "no_cache_filter", multiple=True, metavar="STAGE",
              help="Do not use the cache for these stages (names or indexes).")
@click.option("--env", "image_env", multiple=True, metavar="KEY[=VALUE]", help="Set an ENV in the built image.")
@click.option("--layers/--no-layers", default=True, hidden=True, help="Accepted for buildah compatibility.")
@click.option("--cache-from", "cache_from", multiple=True, metavar="REGISTRY/REPO[:TAG]",
              help="Use steps cached in this registry repository (tag buildcache).")
@click.option("--cache-to", "cache_to", multiple=True, metavar="REGISTRY/REPO[:TAG]",
              help="Push every step's result to this registry cache.")
@click.option("--tls-verify", type=click.BOOL, is_flag=False, flag_value=True, default=None,
              help="Require HTTPS and verify certificates for registries (false: allow plain HTTP).")
@click.option("--cert-dir", type=click.Path(file_okay=False), help="Directory with registry CA/client files.")
@click.option("--authfile", type=click.Path(dir_okay=False), help="Registry auth file to use.")
@click.option("--creds", metavar="USER[:PASSWORD]", help="Credentials for the registries.")
@click.option("--check", is_flag=True, help="Lint the Dockerfile only (BuildKit's rules); no build.")
@click.option("--call", metavar="build|check[,format=json]", help="buildx's spelling: --call check is --check.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              help="Output of --check.")
@click.option("--list-rules", is_flag=True, help="List the lint rules and exit.")
@click.pass_context
def build(ctx: click.Context, context: str, tags, dockerfile, build_args, target, no_cache, pull, labels,
          iidfile, quiet, platform, network, secrets, layers, cache_from, cache_to, tls_verify, cert_dir,
          authfile, creds, check, call, fmt, list_rules, ssh, **run_flags) -> None:
    """Build an image from a Dockerfile and a context directory ('-': a tar or a Dockerfile on stdin)."""
    if list_rules:
        from rootless_build.cli.check_cmd import list_rules as print_rules

        return print_rules()
    secret_files, secret_envs = _secrets(secrets)
    stdin_context = None
    if context == "-":
        if dockerfile == "-":
            raise UsageError("the build context and the Dockerfile cannot both come from stdin")
        from rootless_build.build.stdincontext import stdin_context as receive

        stdin_context = receive(click.get_binary_stream("stdin"))
        context = str(stdin_context.context)
        if stdin_context.dockerfile is not None:
            dockerfile = str(stdin_context.dockerfile)
        elif dockerfile and not os.path.isabs(dockerfile):  # -f names a file inside the tar
            dockerfile = os.path.join(context, dockerfile)
    agents = None
    try:
        if ssh:
            from rootless_build.build.sshagents import ssh_agents

            agents = ssh_agents(ssh)
        _build(ctx, context, tags, dockerfile, build_args, target, no_cache, pull, labels, iidfile, quiet,
               platform, network, secret_files, secret_envs, agents.sockets if agents else {}, cache_from,
               cache_to, tls_verify, cert_dir, authfile, creds, check, call, fmt, _run_flags(**run_flags))
    finally:
        if agents is not None:
            agents.close()
        if stdin_context is not None:
            stdin_context.remove()


def _build(ctx, context, tags, dockerfile, build_args, target, no_cache, pull, labels, iidfile, quiet,
           platform, network, secret_files, secret_envs, ssh_sockets, cache_from, cache_to, tls_verify,
           cert_dir, authfile, creds, check, call, fmt, run_flags) -> None:
    from rootless_build.build.dockerfilesource import has_run
    from rootless_build.build.options import BuildOptions

    options = BuildOptions(
        context_dir=context, dockerfile=dockerfile,
        dockerfile_text=click.get_text_stream("stdin").read() if dockerfile == "-" else None,
        tags=list(tags), build_args=_pairs(build_args, "--build-arg", from_env=True), target=target,
        no_cache=no_cache, pull=pull, labels=_pairs(labels, "--label", from_env=False), iidfile=iidfile,
        quiet=quiet, platform=platform, network=network, secrets=secret_files, secret_envs=secret_envs, ssh=ssh_sockets,
        storage_driver=common.storage_driver(ctx) or configured_storage_driver(),
        cache_from=list(cache_from), cache_to=list(cache_to), tls_verify=tls_verify, cert_dir=cert_dir,
        authfile=authfile, creds=creds, **run_flags)
    check, fmt = _call(call, check, fmt)
    if check:
        from rootless_build.cli.check_cmd import run_check

        sys.exit(run_check(common.open_store(ctx), options, fmt))
    # A RUN needs the user namespace only when it executes: a cached build stays out of it
    # (one Python start-up instead of two); --no-cache executes every RUN, so enter at once.
    if no_cache and has_run(options) and _outside_userns() and not _enter_here():
        sys.exit(_in_userns(options))
    from rootless_build.build.builder import build as run_build
    from rootless_build.build.handlers.run import NeedsUserNamespace
    from rootless_build.build.progress import SHOWN_STEPS_ENV, Progress

    signal.signal(signal.SIGTERM, _terminated)
    progress = Progress(quiet)
    try:
        run_build(common.open_store(ctx), options, progress)
    except NeedsUserNamespace:      # the first RUN that misses the cache: go on from inside
        os.environ[SHOWN_STEPS_ENV] = str(progress.current_step)
        sys.exit(_in_userns(options))


def _run_flags(add_hosts, shm_size, ulimits, cap_add, cap_drop, ignorefile, cache_ttl, no_cache_filter,
               image_env) -> dict:
    """The RUN-shaping and cache flags, checked, as BuildOptions fields."""
    from rootless_build.build import runoptions as ro
    from rootless_build.dockerfile.durations import DurationError, parse_duration

    ttl = None
    if cache_ttl is not None:
        try:
            ttl = parse_duration(cache_ttl)
        except DurationError as e:
            raise UsageError(f"invalid --cache-ttl {cache_ttl!r}: {e}") from None
    if ignorefile is not None and not os.path.isfile(ignorefile):
        raise UsageError(f"--ignorefile {ignorefile}: no such file")
    caps = {flag: [ro.parse_capability(c, flag) for c in values]
            for flag, values in (("--cap-add", cap_add), ("--cap-drop", cap_drop))}
    if caps["--cap-add"] or caps["--cap-drop"]:
        from rootless_build.sandbox.capnames import check_names

        for flag, names in caps.items():
            check_names(names, flag)
    limits = [ro.parse_ulimit(u) for u in ulimits]
    return {"add_hosts": [ro.parse_add_host(h) for h in add_hosts],
            "shm_size": ro.parse_size(shm_size, "--shm-size") if shm_size else None,
            "ulimits": [(ro.ULIMITS[name], soft, hard) for name, soft, hard in limits],
            "cap_add": caps["--cap-add"], "cap_drop": caps["--cap-drop"],
            "ignorefile": os.path.abspath(ignorefile) if ignorefile else None, "cache_ttl_ns": ttl,
            "no_cache_stages": [s.strip().lower() for v in no_cache_filter for s in v.split(",") if s.strip()],
            "image_env": _pairs(image_env, "--env", from_env=True)}


def _call(call: str | None, check: bool, fmt: str) -> tuple[bool, str]:
    """`--call check[,format=json]` (buildx) as --check [--format json]; `--call build` builds."""
    if call is None:
        return check, fmt
    method, *params = call.split(",")
    if method not in ("build", "check"):
        raise UsageError(f"--call {call!r}: only build and check are supported")
    for param in params:
        key, _, value = param.partition("=")
        if key != "format" or value not in ("text", "json"):
            raise UsageError(f"--call {call!r}: expected format=text or format=json")
        fmt = value
    return check or method == "check", fmt


def _outside_userns() -> bool:
    from rootless_build.sandbox.userns import in_userns

    return os.getuid() != 0 and not in_userns()


def _enter_here() -> bool:
    from rootless_build.sandbox.userns import enter_here

    return enter_here()


def _in_userns(options) -> int:
    """Run this very command again as root of the user namespace (RUN steps need it);
    a Dockerfile read from stdin is handed over as the new process's stdin."""
    from rootless_build.sandbox.userns import reexec_in_userns, spawn_in_userns

    if options.dockerfile != "-":
        return reexec_in_userns(sys.argv[1:])
    import tempfile

    with tempfile.TemporaryFile("w+") as text:
        text.write(options.dockerfile_text or "")
        text.flush()
        text.seek(0)
        return spawn_in_userns(["rootless_build", *sys.argv[1:]], module=True, stdin=text)


def _terminated(signum, _frame) -> None:
    """SIGTERM: unwind (temp dirs removed, exit 143) instead of dying where we stand."""
    from rootless_build.sandbox.spec import StepInterrupted

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise StepInterrupted(signum)


def configured_storage_driver() -> str | None:
    """`storage_driver = "..."` from $XDG_CONFIG_HOME/rootless-build/config.toml (default
    ~/.config); the global --storage-driver (or ROOTLESS_BUILD_STORAGE_DRIVER) wins."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    path = Path(base) / "rootless-build" / "config.toml"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    import tomllib

    try:
        value = tomllib.loads(raw.decode("utf-8")).get("storage_driver")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: {e}") from None
    if value is None:
        return None
    from rootless_build.sandbox.drivers import DRIVERS

    if value not in DRIVERS:
        raise UsageError(f"{path}: storage_driver = {value!r}: choose one of {', '.join(DRIVERS)}")
    return value
