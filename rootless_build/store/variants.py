"""Compressed variants of stored layers, made once and remembered.

Local layers are stored uncompressed; a record `variants/<stored digest>-<compression>`
= {"source", "digest", "size", "mediaType"} points at the gzip/zstd blob made from one,
so a second save or a push reuses it. The record keeps the blob alive as long as its
source is (see store.roots.reachable). A layer stored compressed (should one be) is
recompressed or expanded the same way.
"""

from __future__ import annotations

from typing import BinaryIO, cast

from rootless_build.errors import BlobCorrupt, UsageError
from rootless_build.layers.compression import READ_SIZE, open_uncompressed
from rootless_build.layers.fileobj import Bytes, ByteWriter, ChunkReader
from rootless_build.layers.sink import LayerDigests, LayerSink
from rootless_build.oci import mediatypes as mt
from rootless_build.oci.models import Descriptor
from rootless_build.store.roots import VARIANTS
from rootless_build.store.store import Store
from rootless_build.store.tempblob import TempBlob
from rootless_build.store.writeback import WritebackFile

COMPRESSIONS = {"none": "", "gzip": "gzip", "zstd": "zstd"}


def compression_name(text: str) -> str:
    """'gzip', 'zstd' or '' for none; a one-line error for anything else."""
    if text not in COMPRESSIONS and text not in COMPRESSIONS.values():
        raise UsageError(f"unknown compression {text!r} (choose gzip, zstd or none)")
    return COMPRESSIONS.get(text, text)


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
    return Descriptor(mediaType=rec["mediaType"], digest=rec["digest"], size=rec["size"])


def compressed_layer(store: Store, layer: Descriptor, compression: str, diff_id: str | None = None) -> Descriptor:
    """The descriptor of `layer` in `compression` ('gzip', 'zstd', '' for a plain tar):
    the stored layer itself, a remembered variant, or one made now (see make_variant)."""
    if compression == mt.layer_compression(layer.media_type):
        return layer
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
    store.put_record(VARIANTS, variant_key(layer.digest, compression),
                     {"source": layer.digest, "digest": desc.digest, "size": desc.size, "mediaType": desc.media_type})
    return desc


def _convert(store: Store, layer: Descriptor, compression: str, diff_id: str | None,
             tee: BinaryIO | None) -> Descriptor:
    with TempBlob(store.tmp_dir, prefix=f"{compression or 'tar'}-", what=f"compressing {layer.digest}") as blob:
        with store.blobs.open(layer.digest, verify=diff_id is None) as src:  # else checked below
            # (typeshed's BinaryIO lacks readinto; the store's readers all have it)
            result = _write(cast(ChunkReader, src), layer,
                            _Tee(blob.file, tee) if tee is not None else blob.file, compression)
        if diff_id is not None and result.diff_id != diff_id:
            raise BlobCorrupt(f"blob {layer.digest} is corrupt (its content hashes to {result.diff_id}, "
                              f"not {diff_id}); `rootless-build rmi` or pull the image again")
        blob.commit(store.blobs, result.digest)
    return Descriptor(mediaType=mt.oci_layer_type(compression), digest=result.digest, size=result.size)


def _write(src: ChunkReader, layer: Descriptor, dest: ByteWriter, compression: str) -> LayerDigests:
    with LayerSink(dest, compression) as sink:
        if not mt.layer_compression(layer.media_type):
            sink.write_from(src, layer.size)  # straight into the sink's blocks
        else:
            with open_uncompressed(src) as content:
                while chunk := content.read(READ_SIZE):
                    sink.write(chunk)
        return sink.finish()


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
