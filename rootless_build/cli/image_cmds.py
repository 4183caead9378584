"""images, tag, rmi, prune, inspect, history, fsck: thin commands over store/."""

from __future__ import annotations

import json
import re
import sys

import click

from rootless_build.cli.common import human_ago, human_size, open_store, print_table
from rootless_build.errors import ImageNotFound, RootlessBuildError, UsageError


@click.command()
@click.option("-a", "--all", "all_", is_flag=True, help="Show intermediate images too.")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs.")
@click.option("--format", "fmt", default="table", help="table, json or a Go template.")
@click.option("--no-trunc", is_flag=True, help="Do not truncate IDs.")
@click.option("--digests", is_flag=True, help="Show manifest digests.")
@click.argument("repository", required=False)
@click.pass_context
def images(ctx, all_, quiet, fmt, no_trunc, digests, repository):
    """List images."""
    from rootless_build.oci.digest import short_id
    from rootless_build.store.describe import list_images, podman_json
    from rootless_build.store.names import split_display

    rows, problems = list_images(open_store(ctx), intermediate=all_, name_filter=repository)
    for problem in problems:
        click.echo(f"warning: {problem}", err=True)
    ident = (lambda img: img.id) if no_trunc else (lambda img: short_id(img.id))
    if quiet:
        for image_id in dict.fromkeys(ident(r.image) for r in rows):
            click.echo(image_id)
    elif fmt == "json":
        unique = {r.image.manifest_digest: r.image for r in rows}
        click.echo(json.dumps([podman_json(i) for i in unique.values()], indent=4))
    elif fmt == "table":
        headers = ["REPOSITORY", "TAG", *(["DIGEST"] if digests else []), "IMAGE ID", "CREATED", "SIZE"]
        table = [[*split_display(r.tag), *([r.image.manifest_digest] if digests else []),
                  ident(r.image), human_ago(r.image.created), human_size(r.image.size)] for r in rows]
        print_table(table, headers)
    else:
        for r in rows:
            repo, tag = split_display(r.tag)
            fields = {"Repository": repo, "Tag": tag, "ID": ident(r.image), "Digest": r.image.manifest_digest,
                      "CreatedSince": human_ago(r.image.created), "CreatedAt": r.image.config.created or "",
                      "Size": human_size(r.image.size)}
            click.echo(render_template(fmt, fields))


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
    failed = deleted = False
    for name in names:
        try:
            removal = remove_image(store, name, force=force)
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
        collect(store)
    if failed:
        sys.exit(1)


@click.command()
@click.option("-a", "--all", "all_", is_flag=True, help="Remove every image no container uses, and the build cache.")
@click.option("-f", "--force", is_flag=True, help="Accepted for docker compatibility (no prompt is shown).")
@click.pass_context
def prune(ctx, all_, force):
    """Remove dangling images and the data nothing references."""
    from rootless_build.store.remove import prune_images

    result = prune_images(open_store(ctx), all_images=all_)
    if result.untagged or result.deleted:
        click.echo("Deleted Images:")
        for t in result.untagged:
            click.echo(f"untagged: {t}")
        for image_id in result.deleted:
            click.echo(f"deleted: {image_id}")
        click.echo()
    click.echo(f"Total reclaimed space: {human_size(result.report.bytes_freed)}")


@click.command()
@click.option("-f", "--format", "fmt", default=None, help="A Go template, e.g. '{{.Id}}' or '{{json .Config}}'.")
@click.option("--provenance", is_flag=True, help="Show the SLSA provenance attached by build --provenance.")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def inspect(ctx, fmt, provenance, names):
    """Show images' details as a JSON array (docker's shape)."""
    from rootless_build.store.describe import inspect_doc

    store = open_store(ctx)
    docs, failed = [], False
    for name in names:
        try:
            if provenance:
                from rootless_build.build.attest import attached_provenance

                doc = attached_provenance(store, store.resolve(name))
                if doc is None:
                    raise ImageNotFound(f"{name}: no provenance attached (build --provenance mode=min|max)")
                docs.append(doc)
                continue
            docs.append(inspect_doc(store.resolve(name)))
        except RootlessBuildError as e:
            click.echo(f"Error: {e}", err=True)
            failed = True
    if fmt:
        for doc in docs:
            click.echo(render_template(fmt, doc))
    else:
        click.echo(json.dumps(docs, indent=4))
    if failed:
        sys.exit(1)


@click.command()
@click.option("--no-trunc", is_flag=True, help="Do not truncate the output.")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs.")
@click.argument("name")
@click.pass_context
def history(ctx, no_trunc, quiet, name):
    """Show the history of an image, newest first."""
    from rootless_build.oci.digest import short_id
    from rootless_build.store.describe import history_rows

    rows = history_rows(open_store(ctx).resolve(name))

    def ident(row) -> str:
        return row.id if no_trunc or row.id == "<missing>" else short_id(row.id)

    if quiet:
        for r in rows:
            click.echo(ident(r))
        return
    table = [[ident(r), human_ago(r.created) if r.created else "N/A",
              _created_by(r.created_by, no_trunc), human_size(r.size), r.comment] for r in rows]
    print_table(table, ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"])


def _created_by(text: str, no_trunc: bool) -> str:
    text = text.replace("\t", " ").replace("\n", " ")
    return text if no_trunc or len(text) <= 45 else text[:44] + "…"


@click.command()
@click.pass_context
def fsck(ctx):
    """Check every blob's digest and size and every reference; exit 1 on a problem."""
    from rootless_build.store.fsck import fsck as check

    report = check(open_store(ctx))
    for problem in report.problems:
        click.echo(problem)
    counts = f"{report.blobs_checked} blobs, {report.images_checked} images checked"
    if report.ok:
        click.echo(f"{counts}: OK")
    else:
        click.echo(f"{counts}: {len(report.problems)} problem{'s' if len(report.problems) != 1 else ''}")
        sys.exit(1)


# -- a Go-template subset for --format: {{.A.B}} and {{json .A.B}} ------------------------------

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")
_PATH = re.compile(r"^(json\s+)?(\.(?:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)?)$")


_MAP_FIELDS = {"Labels", "Volumes", "ExposedPorts"}
_LIST_FIELDS = {"Env", "Cmd", "Entrypoint", "OnBuild", "Shell", "RepoTags", "RepoDigests", "Layers"}


def render_template(template: str, data: dict) -> str:
    template = template.replace("\\n", "\n").replace("\\t", "\t")

    def action(m: re.Match) -> str:
        parsed = _PATH.match(m.group(1))
        if not parsed:
            raise UsageError(f"unsupported template action {m.group(0)!r} "
                             "(supported: {{.Field}}, {{.A.B}}, {{json .Field}})")
        path = parsed.group(2)
        value = _lookup(data, path)
        if parsed.group(1):
            return json.dumps(value, separators=(",", ":"))
        if value is None:  # Go prints typed nils by their type
            field = path.rsplit(".", 1)[-1]
            return "map[]" if field in _MAP_FIELDS else "[]" if field in _LIST_FIELDS else "<no value>"
        return _go_string(value)

    return _ACTION.sub(action, template)


def _lookup(data, path: str):
    value = data
    for part in [p for p in path.split(".") if p]:
        if not isinstance(value, dict):
            raise UsageError(f"template: can't evaluate field {part} in {path}")
        key = part if part in value else next((k for k in value if k.lower() == part.lower()), None)
        if key is None:
            raise UsageError(f"template: no field {part} in {path}")
        value = value[key]
    return value


def _go_string(value) -> str:
    """How Go's text/template prints a value: [a b], map[k:v], <no value>."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_go_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_string(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)
