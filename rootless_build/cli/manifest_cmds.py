"""`manifest create|add|remove|inspect|rm|push`: manifest lists as buildah and podman keep
them (OCI indexes in the store, store/lists.py)."""

from __future__ import annotations

import json

import click

from rootless_build.cli.common import open_store
from rootless_build.cli.registry_cmds import _options, _tls_options, push_to_registry
from rootless_build.errors import UsageError


@click.group()
def manifest() -> None:
    """Manipulate manifest lists (multi-platform images)."""


@manifest.command()
@click.option("--amend", is_flag=True, help="Add to the list if NAME exists already.")
@click.argument("name")
@click.argument("images", nargs=-1)
@click.pass_context
def create(ctx, amend, name, images):
    """Create manifest list NAME, holding the stored IMAGES."""
    from rootless_build.store import lists

    store = open_store(ctx)
    existing = lists.find_list(store, name)
    if existing is not None and not amend:
        raise UsageError(f"manifest list {name} exists already (use --amend to add to it)")
    found = existing if existing is not None else lists.save_list(store, name, [])
    for text in images:
        found = lists.add_image(store, name, store.resolve(text))
    click.echo(found.digest)


@manifest.command()
@click.option("--os", "os_name", help="Override the OS the list says the image is for.")
@click.option("--arch", help="Override the architecture.")
@click.option("--variant", help="Override the architecture variant.")
@click.option("--annotation", "annotations", multiple=True, metavar="KEY=VALUE", help="Annotate the entry.")
@click.argument("name")
@click.argument("image")
@click.pass_context
def add(ctx, os_name, arch, variant, annotations, name, image):
    """Add the stored IMAGE to manifest list NAME (replacing its platform's entry)."""
    from rootless_build.store import lists

    store = open_store(ctx)
    current = lists.get_list(store, name)
    entry = lists.image_descriptor(store.resolve(image))
    for key, value in (("os", os_name), ("architecture", arch), ("variant", variant)):
        if value:
            entry["platform"][key] = value
    if annotations:
        entry["annotations"] = _pairs(annotations)
    kept = [m for m in current.manifests if m["digest"] != entry["digest"] and m.get("platform") != entry["platform"]]
    found = lists.save_list(store, current.name or name, [*kept, entry], current.doc.get("annotations"))
    click.echo(found.digest)


@manifest.command("remove")
@click.argument("name")
@click.argument("digest")
@click.pass_context
def remove(ctx, name, digest):
    """Remove the image DIGEST from manifest list NAME."""
    from rootless_build.store import lists

    click.echo(lists.remove_image(open_store(ctx), name, digest).digest)


@manifest.command()
@click.argument("name")
@click.pass_context
def inspect(ctx, name):
    """Show manifest list NAME (the OCI index) as JSON."""
    from rootless_build.store import lists

    click.echo(json.dumps(lists.get_list(open_store(ctx), name).doc, indent=4))


@manifest.command("rm")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def rm(ctx, names):
    """Delete manifest lists (their images stay)."""
    from rootless_build.store import lists

    store = open_store(ctx)
    for name in names:
        click.echo(f"Untagged: {lists.delete_list(store, name)}")


@manifest.command()
@click.option("--all", "all_images", is_flag=True, default=True, hidden=True,
              help="Push the images too (always done).")
@click.option("--compression-format", "compression", type=click.Choice(["gzip", "zstd", "zstd:chunked"]),
              default="gzip", show_default=True, help="How to compress layers stored uncompressed.")
@click.option("--compression-level", type=int, help="Compression level (gzip 0-9, zstd 1-22).")
@click.option("--digestfile", type=click.Path(dir_okay=False), help="Write the pushed list's digest here.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@_tls_options()
@click.argument("name")
@click.argument("destination", required=False)
@click.pass_context
def push(ctx, all_images, compression, compression_level, digestfile, quiet, tls_verify, cert_dir, authfile, creds,
         name, destination):
    """Push manifest list NAME and all its images, to NAME or DESTINATION."""
    push_to_registry(open_store(ctx), name, destination, compression, compression_level, None,
                     digestfile, quiet, _options(tls_verify, cert_dir, authfile, creds), list_only=True)


def _pairs(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for value in values:
        key, eq, rest = value.partition("=")
        if not eq or not key:
            raise UsageError(f"invalid --annotation {value!r}: expected KEY=VALUE")
        out[key] = rest
    return out
