"""`rootless-build build`: docker's and buildah's flags over build.builder.build()."""

from __future__ import annotations

import os

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
@click.pass_context
def build(ctx: click.Context, context: str, tags, dockerfile, build_args, target, no_cache, pull, labels,
          iidfile, quiet, platform, network, secrets, layers) -> None:
    """Build an image from a Dockerfile and a context directory."""
    from rootless_build.build.builder import build as run_build
    from rootless_build.build.options import BuildOptions

    options = BuildOptions(
        context_dir=context, dockerfile=dockerfile,
        dockerfile_text=click.get_text_stream("stdin").read() if dockerfile == "-" else None,
        tags=list(tags), build_args=_pairs(build_args, "--build-arg", from_env=True), target=target,
        no_cache=no_cache, pull=pull, labels=_pairs(labels, "--label", from_env=False), iidfile=iidfile,
        quiet=quiet, platform=platform, network=network, secrets=_secrets(secrets),
        storage_driver=common.storage_driver(ctx))
    run_build(common.open_store(ctx), options)
