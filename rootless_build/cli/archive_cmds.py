"""save, load, import: thin commands over archive/."""

from __future__ import annotations

import sys

import click

from rootless_build.cli.common import open_store
from rootless_build.errors import UsageError


@click.command()
@click.option("-o", "--output", help="Write to this file (or directory for oci-dir); default stdout.")
@click.option("--format", "fmt", default="oci-archive", show_default=True,
              type=click.Choice(["oci-archive", "docker-archive", "oci-dir"]), help="Archive format.")
@click.option("--compression", "--compression-format", "compression",
              type=click.Choice(["gzip", "zstd", "zstd:chunked", "none"]),
              help="Layer compression (default gzip for OCI, none for docker-archive).")
@click.option("--compression-level", type=int, help="Compression level (gzip 0-9, zstd 1-22).")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def save(ctx, output, fmt, compression, compression_level, names):
    """Save images to an archive or an OCI directory."""
    from rootless_build.archive.save import save as save_images

    if output is None and sys.stdout.isatty():
        raise UsageError("cowardly refusing to save to a terminal; use -o or redirect stdout")
    save_images(open_store(ctx), list(names), output, fmt, compression,
                stream=None if output else sys.stdout.buffer, level=compression_level)


@click.command()
@click.option("-i", "--input", "source", help="Archive file or OCI directory (default stdin).")
@click.option("-q", "--quiet", is_flag=True, help="Accepted for docker compatibility.")
@click.pass_context
def load(ctx, source, quiet):
    """Load images from an oci-archive, docker-archive or OCI directory."""
    from rootless_build.archive.load import load as load_images

    if source is None and sys.stdin.isatty():
        raise UsageError("requested load from stdin, but stdin is a terminal; use -i or redirect stdin")
    for loaded in load_images(open_store(ctx), source, None if source else sys.stdin.buffer):
        for name in loaded.names:
            click.echo(f"Loaded image: {name}")
        if not loaded.names:
            click.echo(f"Loaded image ID: {loaded.image.id}")


@click.command("import")
@click.option("-c", "--change", "changes", multiple=True, help="Apply a Dockerfile instruction (CMD, ENV, ...).")
@click.option("-m", "--message", help="Commit message for the history.")
@click.argument("tarball")
@click.argument("reference", required=False)
@click.pass_context
def import_(ctx, changes, message, tarball, reference):
    """Create an image from a rootfs tarball (or - for stdin)."""
    from rootless_build.archive.importer import import_tarball

    image = import_tarball(open_store(ctx), tarball, sys.stdin.buffer if tarball == "-" else None,
                           name=reference, message=message, changes=list(changes))
    click.echo(image.id)
