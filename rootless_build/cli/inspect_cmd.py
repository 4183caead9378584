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
@click.option("--provenance", is_flag=True, help="Show an image's SLSA provenance attached by build --provenance.")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def inspect(ctx, fmt, kind, size, provenance, names):
    """Show images' or containers' details as a JSON array (docker's shape)."""
    from rootless_build.cli.gotemplate import compile_template

    if kind is not None and kind not in _TYPES:
        raise UsageError(f'"{kind}" is not a valid value for --type')
    template = compile_template(fmt) if fmt else None   # a broken one fails before anything is read
    store = open_store(ctx)
    docs, failed = [], False
    for name in names:
        try:
            docs.append(_provenance(store, name) if provenance else _document(store, name, kind))
        except RootlessBuildError as e:
            click.echo(f"Error: {e}", err=True)
            failed = True
    if template is not None:
        for doc in docs:
            click.echo(template.render(doc))
    else:
        click.echo(json.dumps(docs, indent=4))
    if failed:
        sys.exit(1)


def _provenance(store, name: str) -> dict:
    from rootless_build.builder.attest import attached_provenance
    from rootless_build.errors import ImageNotFound

    doc = attached_provenance(store, store.resolve(name))
    if doc is None:
        raise ImageNotFound(f"{name}: no provenance attached (build --provenance mode=min|max)")
    return doc


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
