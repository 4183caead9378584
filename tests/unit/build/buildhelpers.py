"""Run the builder in-process on a real store and collect its output."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rootless_build.builder.builder import build
from rootless_build.builder.options import BuildOptions
from rootless_build.builder.progress import Progress


class Built:
    def __init__(self, store, image, output: str, warnings: str):
        self.store = store
        self.image = image
        self.output = output
        self.warnings = warnings
        self.config = json.loads(image.config_bytes)

    @property
    def history(self) -> list[dict]:
        return self.config.get("history", [])

    @property
    def container(self) -> dict:
        return self.config.get("config", {})


def run_build(store, context: Path, dockerfile: str, **options) -> Built:
    (context / "Dockerfile").write_text(dockerfile)
    out, err = io.StringIO(), io.StringIO()
    progress = Progress(options.get("quiet", False), out=out, err=err)
    image = build(store, BuildOptions(context_dir=str(context), **options), progress)
    return Built(store, image, out.getvalue(), err.getvalue())
