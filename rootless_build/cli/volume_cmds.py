"""`volume create|ls|inspect|rm|prune`: docker's commands over the store's named volumes."""

from __future__ import annotations

import json
import sys

import click

from rootless_build.cli.common import human_size, open_store, print_table
from rootless_build.errors import RootlessBuildError


def _volumes(ctx):
    from rootless_build.containers.catalog import Catalog
    from rootless_build.containers.volumes import Volumes

    store = open_store(ctx)
    return Volumes(store.root), Catalog(store.containers_dir)


@click.group()
def volume():
    """Manage volumes."""


@volume.command()
@click.option("-d", "--driver", default="local", help="Volume driver (only local).")
@click.option("--label", "labels", multiple=True, help="Set a label (KEY=VALUE).")
@click.option("-o", "--opt", "opts", multiple=True,
              help="Driver option: type=tmpfs,device=tmpfs,o=size=N (a tmpfs at each mount).")
@click.argument("name", required=False)
@click.pass_context
def create(ctx, driver, labels, opts, name):
    """Create a volume (an anonymous, 64-hex name when none is given)."""
    from rootless_build.containers.runconfig import parse_labels
    from rootless_build.containers.volumes import parse_options
    from rootless_build.errors import UsageError

    if driver != "local":
        raise UsageError(f"volume driver {driver!r}: only the local driver exists here")
    wanted_labels, options = parse_labels(list(labels)), parse_options(list(opts))
    volumes, _ = _volumes(ctx)
    with volumes.lock():
        made = volumes.create(name, labels=wanted_labels, options=options, by_create=True)
    click.echo(made.name)


@volume.command(name="ls")
@click.option("-q", "--quiet", is_flag=True, help="Only show volume names.")
@click.option("-f", "--filter", "filters", multiple=True, help="KEY=VALUE: name, label, dangling, driver.")
@click.option("--format", "fmt", default="table", help="table, json, a Go template or 'table TEMPLATE'.")
@click.pass_context
def ls(ctx, quiet, filters, fmt):
    """List volumes."""
    from rootless_build.containers import volumeops
    from rootless_build.store.filters import Filters

    wanted = Filters.parse(filters, volumeops.LS_KEYS)
    if fmt not in ("table", "json") and not quiet:
        from rootless_build.cli.gotemplate import compile_template

        compile_template(fmt)
    volumes, catalog = _volumes(ctx)
    found = volumeops.listing(volumes, catalog, wanted)
    if quiet:
        for v in found:
            click.echo(v.name)
    elif fmt == "table":
        print_table([["local", v.name] for v in found], ["DRIVER", "VOLUME NAME"])
    elif fmt == "json":
        click.echo(json.dumps([volumeops.inspect(v) for v in found], indent=4))
    else:
        from rootless_build.cli.image_cmds import print_formatted

        print_formatted(fmt, [volumeops.fields(v) for v in found], volumeops.HEADERS)


@volume.command()
@click.option("-f", "--format", "fmt", default="", help="A Go template over each volume.")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def inspect(ctx, fmt, names):
    """Show volumes' details as JSON."""
    from rootless_build.containers import volumeops

    volumes, _ = _volumes(ctx)
    found, failed = [], False
    for name in names:
        try:
            found.append(volumeops.inspect(volumes.get(name)))
        except RootlessBuildError as e:
            click.echo(f"Error: {e}", err=True)
            failed = True
    if fmt:
        from rootless_build.cli.gotemplate import compile_template

        template = compile_template(fmt)
        for item in found:
            click.echo(template.render(item))
    else:
        click.echo(json.dumps(found, indent=4))
    if failed:
        sys.exit(1)


@volume.command()
@click.option("-f", "--force", is_flag=True, help="Do not fail on a volume that does not exist.")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def rm(ctx, force, names):
    """Remove volumes (refused while a container uses one)."""
    from rootless_build.containers.volumes import NoSuchVolume, remove_unused

    volumes, catalog = _volumes(ctx)
    failed = False
    for name in names:
        try:
            remove_unused(volumes, catalog, name)
        except NoSuchVolume as e:
            if not force:
                click.echo(f"Error: {e}", err=True)
                failed = True
            continue
        except RootlessBuildError as e:
            click.echo(f"Error: {e}", err=True)
            failed = True
            continue
        click.echo(name)
    if failed:
        sys.exit(1)


@volume.command()
@click.option("-a", "--all", "all_", is_flag=True, help="Remove unused named volumes too, not only anonymous ones.")
@click.option("-f", "--force", is_flag=True, help="Accepted for docker compatibility (no prompt is shown).")
@click.option("--filter", "filters", multiple=True, help="KEY=VALUE: label, label!, all.")
@click.pass_context
def prune(ctx, all_, force, filters):
    """Remove volumes no container uses (anonymous ones unless --all, as docker 23+)."""
    from rootless_build.containers import volumeops
    from rootless_build.store.filters import Filters

    wanted = Filters.parse(filters, volumeops.PRUNE_KEYS)
    volumes, catalog = _volumes(ctx)
    removed, freed = volumeops.prune(volumes, catalog, wanted, all_)
    if removed:
        click.echo("Deleted Volumes:")
        for name in removed:
            click.echo(name)
        click.echo()
    click.echo(f"Total reclaimed space: {human_size(freed)}")
