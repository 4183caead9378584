"""`rootless-build build`: docker's and buildah's flags over build.builder.build()."""

from __future__ import annotations

import os
import signal
import sys

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


def _secrets(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        fields = dict(part.partition("=")[::2] for part in item.split(","))
        secret_id = fields.get("id")
        source = fields.get("src") or fields.get("source")
        if not secret_id:
            raise UsageError(f"invalid --secret {item!r}: expected id=ID,src=FILE")
        if not source:
            if fields.get("env") or fields.get("type") == "env":
                raise UsageError(f"--secret {item!r}: env secrets are not supported; use src=FILE")
            source = secret_id
        out[secret_id] = os.path.abspath(source)
    return out


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
@click.option("--secret", "secrets", multiple=True, metavar="id=ID,src=FILE",
              help="A secret for RUN --mount=type=secret.")
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
@click.option("--isolation", type=click.Choice(["oci", "rootless", "chroot"]),
              help="How RUN steps are isolated (default: the best this place allows).")
@click.pass_context
def build(ctx: click.Context, context: str, tags, dockerfile, build_args, target, no_cache, pull, labels,
          iidfile, quiet, platform, network, secrets, layers, cache_from, cache_to, tls_verify, cert_dir,
          authfile, creds, isolation) -> None:
    """Build an image from a Dockerfile and a context directory."""
    from rootless_build.build.dockerfilesource import has_run
    from rootless_build.build.options import BuildOptions

    options = BuildOptions(
        context_dir=context, dockerfile=dockerfile,
        dockerfile_text=click.get_text_stream("stdin").read() if dockerfile == "-" else None,
        tags=list(tags), build_args=_pairs(build_args, "--build-arg", from_env=True), target=target,
        no_cache=no_cache, pull=pull, labels=_pairs(labels, "--label", from_env=False), iidfile=iidfile,
        quiet=quiet, platform=platform, network=network, secrets=_secrets(secrets),
        storage_driver=common.storage_driver(ctx), isolation=common.isolation(ctx, isolation),
        cache_from=list(cache_from), cache_to=list(cache_to), tls_verify=tls_verify, cert_dir=cert_dir,
        authfile=authfile, creds=creds)
    # A RUN needs the user namespace only when it executes: a cached build stays out of it
    # (one Python start-up instead of two); --no-cache executes every RUN, so enter at once.
    if no_cache and has_run(options) and _outside_userns() and not _enter_here(ctx, options):
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


def _outside_userns() -> bool:
    from rootless_build.sandbox.userns import in_userns

    return os.getuid() != 0 and not in_userns()


def _enter_here(ctx: click.Context, options) -> bool:
    """Enter the user namespace the probed plan asks for (its notes are said by the RUN)."""
    from rootless_build.sandbox import isolation

    plan = isolation.choose(common.open_store(ctx).tmp_dir, options.isolation, options.storage_driver)
    return isolation.enter(plan, warn=None)


def _in_userns(options) -> int:
    """Run this very command again as root of the user namespace (RUN steps need it), with
    the mapping the probe chose (its plan is in the environment by now); a Dockerfile read
    from stdin is handed over as the new process's stdin."""
    from rootless_build.sandbox.isolation import handed_plan
    from rootless_build.sandbox.idmap import plan_mapping
    from rootless_build.sandbox.userns import spawn_in_userns

    plan = handed_plan()
    mapping = plan_mapping(single=plan is not None and plan.mapping == "single")
    if options.dockerfile != "-":
        return spawn_in_userns(["rootless_build", *sys.argv[1:]], module=True, mapping=mapping, warn=None)
    import tempfile

    with tempfile.TemporaryFile("w+") as text:
        text.write(options.dockerfile_text or "")
        text.flush()
        text.seek(0)
        return spawn_in_userns(["rootless_build", *sys.argv[1:]], module=True, stdin=text, mapping=mapping,
                               warn=None)


def _terminated(signum, _frame) -> None:
    """SIGTERM: unwind (temp dirs removed, exit 143) instead of dying where we stand."""
    from rootless_build.sandbox.spec import StepInterrupted

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise StepInterrupted(signum)
