"""cp, diff, export: a container's filesystem, over containers/copying and changes."""

from __future__ import annotations

import os
import sys

import click

from rootless_build.cli.container_cmds import _catalog
from rootless_build.errors import UsageError


def _split(arg: str) -> tuple[str | None, str]:
    """(container, path) for CONTAINER:PATH, (None, path) for a host path (docker's rule:
    a colon after a slash, or a leading ./ or /, is part of a host path)."""
    if arg.startswith(("/", ".")):
        return None, arg
    head, colon, tail = arg.partition(":")
    if not colon or "/" in head:
        return None, arg
    return head, tail


@click.command()
@click.option("-a", "--archive", is_flag=True, help="Keep the source's uid/gid (default: the receiver's root or user).")
@click.option("-L", "--follow-link", is_flag=True, help="Follow a symbolic link given as SRC.")
@click.option("-q", "--quiet", is_flag=True, hidden=True, help="Accepted for docker compatibility.")
@click.argument("src")
@click.argument("dest")
@click.pass_context
def cp(ctx, archive, follow_link, quiet, src, dest):
    """Copy files between a container and the host: cp C:SRC DEST|-, cp SRC|- C:DEST."""
    from rootless_build.containers.copying import copy_in, copy_out

    src_ctr, src_path = _split(src)
    dest_ctr, dest_path = _split(dest)
    if src_ctr and dest_ctr:
        raise UsageError("copying between containers is not supported")
    if not src_ctr and not dest_ctr:
        raise UsageError("must specify at least one container source")
    if not (src_path if src_ctr else dest_path):
        raise UsageError("filepath in the container must not be empty")
    store, catalog = _catalog(ctx)
    if src_ctr:
        if dest_path == "-" and sys.stdout.isatty():
            raise UsageError("cowardly refusing to write a tar to a terminal; redirect the output")
        container = catalog.lookup(src_ctr)
        copy_out(store, catalog, container, src_path, dest_path, follow=follow_link, out=sys.stdout.buffer)
    else:
        container = catalog.lookup(dest_ctr)
        copy_in(store, catalog, container, src_path, dest_path, archive=archive, follow=follow_link,
                stdin=sys.stdin.buffer)


@click.command()
@click.argument("container")
@click.pass_context
def diff(ctx, container):
    """Show what a container changed in its image's filesystem (A added, C changed, D deleted)."""
    from rootless_build.containers.changes import container_changes

    store, catalog = _catalog(ctx)
    for kind, path in container_changes(store, catalog, catalog.lookup(container)):
        click.echo(f"{kind} {path}")


@click.command()
@click.option("-o", "--output", help="Write to this file instead of stdout.")
@click.argument("container")
@click.pass_context
def export(ctx, output, container):
    """Export a container's filesystem as a tar archive."""
    from rootless_build.containers.copying import export as export_tar

    store, catalog = _catalog(ctx)
    c = catalog.lookup(container)
    if output:
        tmp = f"{output}.tmp-{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            export_tar(store, catalog, c, fd)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(tmp)
            raise
        os.close(fd)
        os.replace(tmp, output)
        return
    if sys.stdout.isatty():
        raise UsageError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    sys.stdout.flush()
    export_tar(store, catalog, c, sys.stdout.fileno())
