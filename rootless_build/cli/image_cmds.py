"""images, tag, rmi, prune, history, fsck: thin commands over store/ (inspect: inspect_cmd)."""

from __future__ import annotations

import json
import sys

import click

from rootless_build.cli.common import human_ago, human_size, open_store, print_table
from rootless_build.cli.gotemplate import compile_template, render_template  # noqa: F401 (re-exported)
from rootless_build.errors import RootlessBuildError

IMAGE_HEADERS = {"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
                 "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS",
                 "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE", "VirtualSize": "SIZE"}


@click.command()
@click.option("-a", "--all", "all_", is_flag=True, help="Show intermediate images too.")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs.")
@click.option("--format", "fmt", default="table", help="table, json, a Go template or 'table TEMPLATE'.")
@click.option("--no-trunc", is_flag=True, help="Do not truncate IDs.")
@click.option("--digests", is_flag=True, help="Show manifest digests.")
@click.option("-f", "--filter", "filters", multiple=True,
              help="KEY=VALUE: dangling, label, reference, before, since.")
@click.argument("repository", required=False)
@click.pass_context
def images(ctx, all_, quiet, fmt, no_trunc, digests, filters, repository):
    """List images."""
    from rootless_build.oci.digest import short_id
    from rootless_build.store.describe import list_images, podman_json
    from rootless_build.store.filters import Filters
    from rootless_build.store.imagefilter import IMAGES_KEYS, filter_rows

    wanted = Filters.parse(filters, IMAGES_KEYS)
    if fmt not in ("table", "json") and not quiet:
        compile_template(fmt)       # a broken template fails before anything is listed
    store = open_store(ctx)
    rows, problems = list_images(store, intermediate=all_, name_filter=repository)
    rows = filter_rows(store, rows, wanted)
    for problem in problems:
        click.echo(f"warning: {problem}", err=True)
    ident = (lambda img: img.id) if no_trunc else (lambda img: short_id(img.id))
    if quiet:
        for image_id in dict.fromkeys(ident(r.image) for r in rows):
            click.echo(image_id)
    elif fmt == "json":
        unique = {r.image.manifest_digest: r for r in rows}
        click.echo(json.dumps([podman_json(r) for r in unique.values()], indent=4))
    elif fmt == "table":
        headers = ["REPOSITORY", "TAG", *(["DIGEST"] if digests else []), "IMAGE ID", "CREATED", "SIZE"]
        table = [[*r.repo_tag, *([r.image.manifest_digest] if digests else []),
                  ident(r.image), human_ago(r.image.created), human_size(r.size)] for r in rows]
        print_table(table, headers)
    else:
        fields = []
        for r in rows:
            repo, tag = r.repo_tag
            fields.append({"ID": ident(r.image), "Repository": repo, "Tag": tag, "Digest": r.image.manifest_digest,
                           "CreatedSince": human_ago(r.image.created), "CreatedAt": r.image.config.created or "",
                           "Size": human_size(r.size), "VirtualSize": human_size(r.size), "SharedSize": "N/A",
                           "UniqueSize": "N/A", "Containers": "N/A"})
        print_formatted(fmt, fields, IMAGE_HEADERS)


def print_formatted(fmt: str, rows: list[dict], headers: dict[str, str]) -> None:
    from rootless_build.cli.gotemplate import format_rows, is_table

    text = format_rows(fmt, rows, headers)      # parses the template even when no row is listed
    if rows or is_table(fmt):
        click.echo(text)


@click.command()
@click.argument("source")
@click.argument("targets", nargs=-1, required=True)
@click.pass_context
def tag(ctx, source, targets):
    """Add one or more tags to an image."""
    store = open_store(ctx)
    image = store.resolve(source)
    for target in targets:
        store.tag(image, target)


@click.command()
@click.option("-f", "--force", is_flag=True, help="Remove images that are tagged several times or in use.")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def rmi(ctx, force, names):
    """Remove images (untag; delete with the last tag)."""
    from rootless_build.store.remove import collect, remove_image

    store = open_store(ctx)
    in_use = _images_in_use(store)
    failed = deleted = False
    for name in names:
        try:
            removal = remove_image(store, name, force=force, in_use=in_use)
        except RootlessBuildError as e:
            click.echo(f"Error: {e}", err=True)
            failed = True
            continue
        for t in removal.untagged:
            click.echo(f"Untagged: {t}")
        for image_id in removal.deleted:
            click.echo(f"Deleted: {image_id}")
        deleted = deleted or bool(removal.deleted)
    if deleted:
        _warn_leftovers(collect(store, in_use=in_use, remove=_remove_tree).leftovers)
    if failed:
        sys.exit(1)


@click.command()
@click.option("-a", "--all", "all_", is_flag=True, help="Remove every image no container uses, and the build cache.")
@click.option("-f", "--force", is_flag=True, help="Accepted for docker compatibility (no prompt is shown).")
@click.option("--filter", "filters", multiple=True, help="KEY=VALUE: label, label!, until, dangling.")
@click.pass_context
def prune(ctx, all_, force, filters):
    """Remove dangling images and the data nothing references."""
    from rootless_build.store.filters import Filters
    from rootless_build.store.imagefilter import PRUNE_KEYS, prunable
    from rootless_build.store.remove import prune_images

    wanted = Filters.parse(filters, PRUNE_KEYS)
    dangling = wanted.boolean("dangling")
    all_ = all_ or dangling is False
    wanted.values.pop("dangling", None)
    store = open_store(ctx)
    result = prune_images(store, in_use=_images_in_use(store), all_images=all_, remove=_remove_tree,
                          eligible=prunable(wanted) if wanted else None)
    _warn_leftovers(result.report.leftovers)
    if result.untagged or result.deleted:
        click.echo("Deleted Images:")
        for t in result.untagged:
            click.echo(f"untagged: {t}")
        for image_id in result.deleted:
            click.echo(f"deleted: {image_id}")
        click.echo()
    click.echo(f"Total reclaimed space: {human_size(result.report.bytes_freed)}")


def _images_in_use(store) -> dict:
    """The images containers stand on, from their records (GC roots, rmi's conflicts)."""
    from rootless_build.containers.catalog import Catalog
    from rootless_build.containers.usage import images_in_use

    return images_in_use(Catalog(store.containers_dir))


def _remove_tree(path) -> bool:
    """GC's remover: as the user, then inside the user namespace for what sub-ids own
    (files a killed RUN step left in tmp/, layers extracted with their owners)."""
    from rootless_build.containers.removal import remove_tree

    try:
        remove_tree(path)
    except RootlessBuildError:
        return False
    return True


def _warn_leftovers(paths: list[str]) -> None:
    for path in paths:
        click.echo(f"warning: could not remove {path}; `rootless-build prune` tries again", err=True)


@click.command()
@click.option("--no-trunc", is_flag=True, help="Do not truncate the output.")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs.")
@click.option("--format", "fmt", default=None, help="A Go template or 'table TEMPLATE'.")
@click.argument("name")
@click.pass_context
def history(ctx, no_trunc, quiet, fmt, name):
    """Show the history of an image, newest first."""
    from rootless_build.oci.digest import short_id
    from rootless_build.store.describe import history_rows

    template = compile_template(fmt) if fmt and fmt != "table" else None  # before listing
    store = open_store(ctx)
    rows = history_rows(store, store.resolve(name))

    def ident(row) -> str:
        return row.id if no_trunc or row.id == "<missing>" else short_id(row.id)

    if quiet:
        for r in rows:
            click.echo(ident(r))
        return
    if template is not None:
        print_formatted(fmt, [{"ID": ident(r), "CreatedSince": human_ago(r.created) if r.created else "N/A",
                               "CreatedAt": r.created.isoformat() if r.created else "",
                               "CreatedBy": _created_by(r.created_by, no_trunc), "Size": human_size(r.size),
                               "Comment": r.comment} for r in rows], HISTORY_HEADERS)
        return
    table = [[ident(r), human_ago(r.created) if r.created else "N/A",
              _created_by(r.created_by, no_trunc), human_size(r.size), r.comment] for r in rows]
    print_table(table, ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"])


HISTORY_HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
                   "Size": "SIZE", "Comment": "COMMENT"}


def _created_by(text: str, no_trunc: bool) -> str:
    text = text.replace("\t", " ").replace("\n", " ")
    return text if no_trunc or len(text) <= 45 else text[:44] + "…"


@click.command()
@click.option("--repair", is_flag=True,
              help="Rebuild a damaged index.json from the images in blobs/ (tags from its last good copy).")
@click.pass_context
def fsck(ctx, repair):
    """Check every blob's digest and size and every reference; exit 1 on a problem."""
    from rootless_build.store.fsck import fsck as check

    store = open_store(ctx)
    if repair:
        _repair(store)
    try:
        in_use = set(_images_in_use(store))
    except RootlessBuildError as e:
        click.echo(str(e))
        in_use, failed = set(), True
    else:
        failed = False
    report = check(store, in_use)
    for problem in report.problems:
        click.echo(problem)
    counts = f"{report.blobs_checked} blobs, {report.images_checked} images checked"
    if report.ok and not failed:
        click.echo(f"{counts}: OK")
    else:
        problems = len(report.problems) + failed
        click.echo(f"{counts}: {problems} problem{'s' if problems != 1 else ''}")
        if report.index_damaged:
            click.echo("index.json is damaged: `rootless-build fsck --repair` rebuilds it")
        sys.exit(1)


def _repair(store) -> None:
    from rootless_build.oci.digest import short_id
    from rootless_build.store.repair import repair_index

    repair = repair_index(store)
    if repair.problem is None:
        return
    click.echo(f"repaired: {repair.problem}")
    for name in repair.tags:
        click.echo(f"recovered tag: {name}")
    for digest in repair.untagged:
        click.echo(f"recovered untagged image: {digest} (shown as <none>; tag it with "
                   f"`rootless-build tag {short_id(digest)} NAME`)")
    for digest in repair.dropped:
        click.echo(f"dropped index entry: {digest} (manifest no longer stored)")
