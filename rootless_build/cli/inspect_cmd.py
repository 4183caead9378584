"""inspect: images and containers as docker shows them; --type chooses, else a container
first, then an image (docker's order)."""

from __future__ import annotations

import json
import sys

import click

from rootless_build.cli.common import open_store
from rootless_build.errors import RootlessBuildError, UsageError

_TYPES = ("image", "container")


@click.command()
@click.option("-f", "--format", "fmt", default=None, help="A Go template, e.g. '{{.Id}}' or '{{json .Config}}'.")
@click.option("--type", "kind", default=None, help="image or container (default: whichever the name is).")
@click.option("-s", "--size", is_flag=True, hidden=True, help="Accepted for docker compatibility.")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def inspect(ctx, fmt, kind, size, names):
    """Show images' or containers' details as a JSON array (docker's shape)."""
    if kind is not None and kind not in _TYPES:
        raise UsageError(f'"{kind}" is not a valid value for --type')
    store = open_store(ctx)
    docs, failed = [], False
    for name in names:
        try:
            docs.append(_document(store, name, kind))
        except RootlessBuildError as e:
            click.echo(f"Error: {e}", err=True)
            failed = True
    if fmt:
        from rootless_build.cli.gotemplate import render

        for doc in docs:
            click.echo(render(fmt, doc))
    else:
        click.echo(json.dumps(docs, indent=4))
    if failed:
        sys.exit(1)


def _document(store, name: str, kind: str | None) -> dict:
    from rootless_build.containers.catalog import Catalog, NoSuchContainer
    from rootless_build.errors import ImageNotFound
    from rootless_build.store.describe import inspect_doc as image_doc

    if kind in (None, "container"):
        from rootless_build.containers.inspect import inspect_doc
        from rootless_build.containers.status import refresh

        catalog = Catalog(store.containers_dir)
        try:
            return inspect_doc(catalog, refresh(catalog, catalog.lookup(name)))
        except NoSuchContainer:
            if kind == "container":
                raise NoSuchContainer(f"No such container: {name}") from None
    try:
        return image_doc(store, store.resolve(name))
    except ImageNotFound:
        raise ImageNotFound(f"No such {'image' if kind else 'object'}: {name}") from None
