"""sbom: an image's software bill of materials (thin command over sbom/)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from rootless_build.cli.common import open_store


@click.command()
@click.option("--format", "fmt", type=click.Choice(["spdx-json", "cyclonedx-json"]), default="spdx-json",
              show_default=True, help="Document format: SPDX 2.3 or CycloneDX 1.5 JSON.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the document here (default: stdout).")
@click.argument("image")
@click.pass_context
def sbom(ctx, fmt, output, image):
    """Print the packages installed in IMAGE as an SBOM (the attached one when it has one)."""
    from rootless_build.sbom import generate

    store = open_store(ctx)
    img = store.resolve(image)
    data = generate.attached(store, img, fmt) or generate.make(store, img, fmt)
    write_output(output, data)


def write_output(output: str | None, data: bytes) -> None:
    if not output or output == "-":
        # (not click.get_binary_stream: deprecated, gone in Click 9, and untyped)
        sys.stdout.buffer.write(data if data.endswith(b"\n") else data + b"\n")
        return
    from rootless_build.store.atomic import write_bytes

    write_bytes(Path(output).absolute(), data)
