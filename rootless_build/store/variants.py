"""Compressed variants of stored layers, made once and remembered.

Local layers are stored uncompressed; a record `variants/<stored digest>-<compression>`
= {"source", "digest", "size", "mediaType"} points at the gzip/zstd blob made from one,
so a second save or a push reuses it. The record keeps the blob alive as long as its
source is (see store.roots.reachable). A layer stored compressed (should one be) is
recompressed or expanded the same way.
"""

from __future__ import annotations

import io
from typing import Any, BinaryIO, cast

from rootless_build.errors import BlobCorrupt, UsageError
from rootless_build.layers.compression import READ_SIZE, open_uncompressed
from rootless_build.layers.fileobj import Bytes, ChunkReader
from rootless_build.layers.sink import LayerDigests, LayerSink
from rootless_build.oci import mediatypes as mt
from rootless_build.oci.models import Descriptor
from rootless_build.store.roots import VARIANTS
from rootless_build.store.store import Store
from rootless_build.store.tempblob import TempBlob
from rootless_build.store.writeback import WritebackFile

COMPRESSIONS = {"none": "", "gzip": "gzip", "zstd": "zstd", "zstd:chunked": "zstd:chunked"}
CHUNKED = "zstd:chunked"
# isal's gzip levels are 0-3 (3 compresses about as well as zlib's 6): 4-9 mean its best.
_LEVELS = {"gzip": (0, 9), "zstd": (-7, 22), CHUNKED: (-7, 22)}


def compression_name(text: str, level: int | None = None) -> str:
    """The compression spec the functions here take: 'gzip', 'zstd', 'zstd:chunked' or ''
    for none, with `+LEVEL` appended when a level is asked for (so a variant made at
    another level is another variant). A one-line error for anything else."""
    text, plus, given = text.partition("+")  # (a spec made here already)
    if plus and level is None:
        try:
            level = int(given)
        except ValueError:
            raise UsageError(f"invalid compression level {given!r}") from None
    if text not in COMPRESSIONS and text not in COMPRESSIONS.values():
        raise UsageError(f"unknown compression {text!r} (choose gzip, zstd, zstd:chunked or none)")
    kind = COMPRESSIONS.get(text, text)
    if level is None:
        return kind
    low, high = _LEVELS.get(kind, (0, -1))
    if not low <= level <= high:
        allowed = f"{low} to {high}" if low <= high else "none"
        raise UsageError(f"compression level {level} is out of range for {text} ({allowed})")
    return f"{kind}+{level}"


def parse_spec(spec: str) -> tuple[str, int | None]:
    """('gzip'|'zstd'|'zstd:chunked'|'', level or None) of a compression_name() spec."""
    kind, plus, level = spec.partition("+")
    return kind, int(level) if plus else None


def media_compression(spec: str) -> str:
    """The compression a layer media type shows for `spec` ('zstd' for zstd:chunked)."""
    kind = parse_spec(spec)[0]
    return "zstd" if kind == CHUNKED else kind


def variant_key(source: str, compression: str) -> str:
    return f"{source}-{compression or 'none'}"


def find_variant(store: Store, source: str, compression: str) -> Descriptor | None:
    """The remembered variant of `source`, if its blob is still in the store."""
    rec = store.get_record(VARIANTS, variant_key(source, compression))
    if not rec or rec.get("source") != source:
        return None
    try:
        if store.blobs.size(rec["digest"]) != rec["size"]:
            return None
    except (OSError, KeyError, ValueError):
        return None
    return Descriptor(mediaType=rec["mediaType"], digest=rec["digest"], size=rec["size"],
                      annotations=rec.get("annotations"))


def compressed_layer(store: Store, layer: Descriptor, compression: str, diff_id: str | None = None) -> Descriptor:
    """The descriptor of `layer` in `compression` ('gzip', 'zstd', '' for a plain tar):
    the stored layer itself, a remembered variant, or one made now (see make_variant)."""
    if compression == mt.layer_compression(layer.media_type):
        return layer  # (a level or zstd:chunked asked for is never what is stored)
    return find_variant(store, layer.digest, compression) or make_variant(store, layer, compression, diff_id)


def make_variant(store: Store, layer: Descriptor, compression: str, diff_id: str | None = None,
                 tee: BinaryIO | None = None) -> Descriptor:
    """Convert `layer` to `compression` into a new blob and remember it; with `tee`, the
    converted bytes also go there as they are made (save streams them into its archive).

    Call while holding `store.writing()`, so prune cannot collect the new blob before its
    record exists. The content is hashed while it is converted and checked against
    `diff_id` (default: the digest of an uncompressed layer): a corrupt stored layer
    raises BlobCorrupt instead of being exported.
    """
    stored = mt.layer_compression(layer.media_type)
    desc = _convert(store, layer, compression, diff_id or (None if stored else layer.digest), tee)
    record = {"source": layer.digest, "digest": desc.digest, "size": desc.size, "mediaType": desc.media_type}
    if desc.annotations:
        record["annotations"] = desc.annotations
    store.put_record(VARIANTS, variant_key(layer.digest, compression), record)
    return desc


def _convert(store: Store, layer: Descriptor, compression: str, diff_id: str | None,
             tee: BinaryIO | None) -> Descriptor:
    with TempBlob(store.tmp_dir, prefix=f"{compression or 'tar'}-", what=f"compressing {layer.digest}") as blob:
        with store.blobs.open(layer.digest, verify=diff_id is None) as src:  # else checked below
            result, annotations = _write(src, layer, _Tee(blob.file, tee) if tee is not None else blob.file,
                                         compression)
        if diff_id is not None and result.diff_id != diff_id:
            raise BlobCorrupt(f"blob {layer.digest} is corrupt (its content hashes to {result.diff_id}, "
                              f"not {diff_id}); `rootless-build rmi` or pull the image again")
        blob.commit(store.blobs, result.digest)
    return Descriptor(mediaType=mt.oci_layer_type(media_compression(compression)), digest=result.digest,
                      size=result.size, annotations=annotations or None)


def _write(src: BinaryIO, layer: Descriptor, dest: Any, compression: str) -> tuple[LayerDigests, dict[str, str]]:
    """`dest`: the blob file or a _Tee (write() is all it needs)."""
    kind, level = parse_spec(compression)
    if kind == CHUNKED:
        from rootless_build.layers.zstdchunked import write_chunked

        if not mt.layer_compression(layer.media_type):
            return write_chunked(src, dest, 3 if level is None else level)  # (buffered)
        with open_uncompressed(src) as content:
            return write_chunked(io.BufferedReader(content, READ_SIZE), dest,
                                 3 if level is None else level)
    gzip_level, zstd_level = (1, 3) if level is None else (min(level, 3), level)  # (LayerSink's defaults)
    with LayerSink(dest, kind, gzip_level=gzip_level, zstd_level=zstd_level) as sink:
        if not mt.layer_compression(layer.media_type):
            # straight into the sink's blocks (typeshed's BinaryIO lacks readinto; the store's readers have it)
            sink.write_from(cast(ChunkReader, src), layer.size)
        else:
            with open_uncompressed(src) as content:
                while chunk := content.read(READ_SIZE):
                    sink.write(chunk)
        return sink.finish(), {}


class _Tee:
    """The converted bytes to the new blob and to a second destination."""

    def __init__(self, blob: WritebackFile, other: BinaryIO):
        self._blob = blob
        self._other = other

    def write(self, data: Bytes) -> int:
        self._blob.write(data)
        self._other.write(data)
        return len(data)

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True
