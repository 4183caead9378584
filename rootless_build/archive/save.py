"""`save`: images to an oci-archive, a docker-archive or an oci-dir, written under a
temporary name and renamed into place, so a failed save leaves no half archive."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from rootless_build.archive.destinations import DirDestination
from rootless_build.archive.export import ExportImage, select
from rootless_build.archive.tarout import TarOut
from rootless_build.store.variants import compression_name
from rootless_build.archive.writers import Selected, write_docker_archive, write_oci_layout
from rootless_build.errors import UsageError
from rootless_build.store import Store

FORMATS = ("oci-archive", "docker-archive", "oci-dir")
# docker save writes uncompressed layers; OCI archives are gzip by default (like buildah push)
DEFAULT_COMPRESSION = {"oci-archive": "gzip", "docker-archive": "none", "oci-dir": "gzip"}


def save(store: Store, texts: list[str], output: str | None, fmt: str = "oci-archive",
         compression: str | None = None, stream: BinaryIO | None = None) -> list[ExportImage]:
    """Write the named images to `output` (a path) or, with output None, to `stream`."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r} (choose {', '.join(FORMATS)})")
    if fmt == "oci-dir" and output is None:
        raise UsageError("--format oci-dir needs -o DIRECTORY")
    comp = compression_name(compression or DEFAULT_COMPRESSION[fmt])
    with store.writing():
        selected = select(store, texts)
        if fmt == "oci-dir":
            return _to_directory(Path(output), store, selected, comp)
        if output is None:
            return _write_tar(stream, fmt, store, selected, comp)
        return _to_file(Path(output), fmt, store, selected, comp)


def _write_tar(out: BinaryIO, fmt: str, store: Store, selected: Selected, comp: str) -> list[ExportImage]:
    tar = TarOut(out)
    images = (write_oci_layout if fmt == "oci-archive" else write_docker_archive)(tar, store, selected, comp)
    tar.close()
    return images


def _to_file(path: Path, fmt: str, store: Store, selected: Selected, comp: str) -> list[ExportImage]:
    if path.is_dir():
        raise UsageError(f"{path} is a directory (for an OCI directory use --format oci-dir)")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            images = _write_tar(out, fmt, store, selected, comp)
        os.chmod(tmp, 0o644 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return images


def _to_directory(path: Path, store: Store, selected: Selected, comp: str) -> list[ExportImage]:
    """Build the layout beside `path`, then swap it in (replacing an earlier layout there)."""
    if path.exists() and not (path.is_dir() and (not any(path.iterdir()) or (path / "oci-layout").exists())):
        raise UsageError(f"{path} exists and is not an OCI layout; refusing to replace it")
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        images = write_oci_layout(DirDestination(tmp), store, selected, comp)
        os.chmod(tmp, 0o755 & ~_umask())
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return images


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
