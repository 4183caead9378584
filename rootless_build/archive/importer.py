"""`import`: a rootfs tarball (plain, gzip, zstd, xz or bzip2) becomes a one-layer image.

The layer is stored as the uncompressed tar exactly as it came, entries not rewritten:
its digest is the diff_id, taken of those very bytes in the same pass that writes them.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from typing import BinaryIO

from rootless_build.archive.changes import apply_changes
from rootless_build.archive.staging import ArchiveError, open_any
from rootless_build.errors import LayerError
from rootless_build.layers.fileobj import ByteReader
from rootless_build.layers.sink import LayerSink
from rootless_build.layers.tarreader import BLOCK, is_header, scan_file
from rootless_build.oci import mediatypes as mt
from rootless_build.oci import platform, validate
from rootless_build.oci.documents import InvalidDocument
from rootless_build.oci.models import Descriptor
from rootless_build.store import Image, Store, names
from rootless_build.store.tempblob import TempBlob

_CHUNK = 1 << 20


def import_tarball(store: Store, source: str, stream: BinaryIO | None = None, *, name: str | None = None,
                   message: str | None = None, changes: list[str] | None = None) -> Image:
    """Import `source` (a path, or "-" with `stream`) and tag it `name` if given."""
    name = names.normalize(name) if name else None  # a bad name fails before any work
    config = apply_changes({}, changes or [])
    try:  # --change values: checked as a pulled or loaded config is, before any work
        validate.image_config(json.dumps({"config": config}).encode(), f"image {name or source}")
    except InvalidDocument as e:
        raise ArchiveError(str(e)) from None
    with store.writing():
        if source == "-":
            layer = _store_layer(store, stream, "stdin")
        else:
            try:
                f = open(source, "rb")
            except FileNotFoundError:
                raise ArchiveError(f"{source}: no such file") from None
            with f:
                layer = _store_layer(store, f, source)
        created = _now()
        history = {"created": created, "created_by": f"/bin/sh -c #(nop) ADD file:{layer.digest.split(':')[1]} in / ",
                   "comment": message or f"Imported from {source}"}
        host = platform.host()
        doc = {"architecture": host.architecture, "os": host.os, "created": created, "config": config,
               "rootfs": {"type": "layers", "diff_ids": [layer.digest]}, "history": [history]}
        if host.variant:
            doc["variant"] = host.variant
        image = store.write_image(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode(), [layer])
        if name:
            store.tag(image, name)
        else:
            store.add_untagged(image)
    return store.load_image(image.manifest_digest, (name,) if name else ())


def _store_layer(store: Store, f: BinaryIO, label: str) -> Descriptor:
    content = open_any(f, label)
    try:
        with TempBlob(store.tmp_dir, prefix="import-", what=f"importing {label}") as blob:
            with LayerSink(blob.file, "") as sink:
                first = _read_at_least(content, BLOCK)
                _check_tar(first, label)
                sink.write(first)
                while chunk := content.read(_CHUNK):
                    sink.write(chunk)
                result = sink.finish()
            scan_file(blob.path, "the tarball")  # every header checked before the layer is stored
            blob.commit(store.blobs, result.diff_id)
    except LayerError as e:
        raise ArchiveError(f"{label}: {e}") from None
    return Descriptor(mediaType=mt.OCI_LAYER, digest=result.diff_id, size=result.uncompressed_size)


def _read_at_least(f: ByteReader, n: int) -> bytes:
    data = b""
    while len(data) < n and (chunk := f.read(_CHUNK)):
        data += chunk
    return data


def _check_tar(head: bytes, label: str) -> None:
    """The first block must be a tar header (or the zero block of an empty archive)."""
    block = head[:BLOCK]
    if len(block) < BLOCK:
        raise ArchiveError(f"{label}: not a tar archive (too short)")
    if block == bytes(BLOCK):
        return
    if not is_header(block):
        raise ArchiveError(f"{label}: not a tar archive")


def _now() -> str:
    """RFC 3339 UTC; SOURCE_DATE_EPOCH when set, for reproducible imports."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    seconds = int(epoch) if epoch and epoch.isdigit() else time.time()
    stamp = datetime.fromtimestamp(seconds, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond:06d}Z"
