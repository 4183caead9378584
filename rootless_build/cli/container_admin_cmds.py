"""create, restart, rename, port, top: thin commands over containers/."""

from __future__ import annotations

import click

from rootless_build.cli.common import isolation, storage_driver
from rootless_build.cli.container_cmds import _POSITIONAL_TAIL, _as_125, _catalog, _each
from rootless_build.cli.run_flags import create_from_flags, run_flags
from rootless_build.errors import ContainerError, RootlessBuildError, UsageError


@click.command(context_settings=_POSITIONAL_TAIL)
@run_flags
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def create(ctx, image, command, **flags):
    """Create a new container (Created state); `start` runs it."""
    try:
        _, _, container = create_from_flags(ctx, flags, image, command, detach=False)
    except RootlessBuildError as e:
        raise _as_125(e) from None
    click.echo(container.id)


@click.command()
@click.option("-t", "--time", "--timeout", "timeout", type=int, default=None,
              help="Seconds to wait for the stop before SIGKILL (default: the container's).")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def restart(ctx, timeout, containers):
    """Restart containers (stop, then start in the background)."""
    from rootless_build.containers import lifecycle

    store, _ = _catalog(ctx)

    def again(catalog, c) -> None:
        c = lifecycle.stop(catalog, c, timeout)
        lifecycle.start(store, catalog, c, expect_attach=False, prefer_driver=storage_driver(ctx),
                        prefer_isolation=isolation(ctx))
    _each(ctx, containers, again)


@click.command()
@click.argument("container")
@click.argument("new_name")
@click.pass_context
def rename(ctx, container, new_name):
    """Rename a container."""
    from rootless_build.containers import names

    if not names.is_valid_name(new_name.lstrip("/")):
        raise UsageError(f'invalid container name "{new_name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed')
    _, catalog = _catalog(ctx)
    catalog.rename(catalog.lookup(container).id, new_name.lstrip("/"))


@click.command()
@click.argument("container")
@click.argument("private_port", required=False)
@click.pass_context
def port(ctx, container, private_port):
    """List a container's published ports (none are published yet: prints nothing)."""
    _, catalog = _catalog(ctx)
    c = catalog.lookup(container)
    if private_port:
        number, _, proto = private_port.partition("/")
        if not number.isdigit() or proto not in ("", "tcp", "udp", "sctp"):
            raise UsageError(f"invalid port: {private_port}")
        raise ContainerError(f"No public port '{number}/{proto or 'tcp'}' published for {c.name}")


@click.command(context_settings=_POSITIONAL_TAIL)
@click.argument("container")
@click.argument("ps_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def top(ctx, container, ps_args):
    """Show the processes of a running container (ps options after the name, default -ef)."""
    from rootless_build.cli.gotemplate import tabwriter
    from rootless_build.containers.status import refresh
    from rootless_build.containers.top import top as container_top

    _, catalog = _catalog(ctx)
    titles, rows = container_top(refresh(catalog, catalog.lookup(container)), list(ps_args))
    text = tabwriter("\n".join("\t".join(cells) for cells in [titles, *rows]), minwidth=20, padding=3)
    click.echo(text)



