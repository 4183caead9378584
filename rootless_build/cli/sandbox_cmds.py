"""`unshare` and `info`: the rootless user namespace, for users and tests."""

from __future__ import annotations

import json
import sys

import click

from rootless_build.cli import common


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def unshare(command: tuple[str, ...]) -> None:
    """Run COMMAND (default $SHELL) as root of the rootless user namespace, like `podman unshare`."""
    from rootless_build.sandbox.userns import run_unshare

    sys.exit(run_unshare(list(command)))


@click.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
def info(ctx: click.Context, fmt: str) -> None:
    """Show id ranges, helpers, which storage drivers work, paths and versions."""
    from rootless_build.sandbox.info import machine_info

    data = machine_info(common.open_store(ctx).root)
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
        return
    _print_tree(data)


def _print_tree(data: dict, indent: int = 0) -> None:
    pad = "  " * indent
    for key, value in data.items():
        if isinstance(value, dict):
            click.echo(f"{pad}{key}:")
            _print_tree(value, indent + 1)
        elif isinstance(value, list):
            click.echo(f"{pad}{key}:" + ("" if value else " []"))
            for item in value:
                click.echo(f"{pad}  - {item}")
        else:
            click.echo(f"{pad}{key}: {'' if value is None else value}")
