"""The entry list of a layer tar, read from its headers alone and remembered per blob.

COPY needs to know what the image it adds to holds (destination parents, /etc/passwd,
`--from` sources); reading that from the layer tars must not cost a rebuild much. The
headers are parsed and validated by layers.tarreader (tarfile spends ~100 us per entry),
data is skipped with seeks, and the list is kept as a store record keyed by the blob's digest: blobs
are content-addressed, so a record never goes stale.

Entry: [name, type, mode, uid, gid, mtime, size, linkname, data offset, devmajor,
devminor, xattrs as {name: hex} or None]; `type` is the tar typeflag character.
"""

from __future__ import annotations

from typing import BinaryIO

from rootless_build.store.roots import LAYER_INDEX

_VERSION = 2  # 2: headers validated by layers.tarreader (records of 1 may describe refused tars)


def scan(f: BinaryIO, what: str) -> list[list]:
    """Every entry of an uncompressed tar, in order (content skipped, by seek on a file)."""
    from rootless_build.layers.tarreader import read_entries  # a cached build reads records only

    entries: list[list] = []
    for e, _content in read_entries(f, what):
        xattrs = {k[13:]: v.encode("utf-8", "surrogateescape").hex()
                  for k, v in e.pax_headers.items() if k.startswith("SCHILY.xattr.")} or None
        typeflag = e.type.decode("latin-1") if e.type != b"\0" else "0"
        if e.sparse is not None:
            typeflag = "S"  # its bytes are not one run at the offset: not a file to read from here
        entries.append([e.name, typeflag, e.mode, e.uid, e.gid, e.mtime,
                        e.size if typeflag in ("0", "7") else 0, e.linkname, e.offset_data,
                        e.devmajor, e.devminor, xattrs])
    return entries


def layer_entries(store, digest: str, opener) -> list[list]:
    """The layer's entries, from its record, else scanned (opener() gives the tar stream)."""
    record = store.get_record(LAYER_INDEX, digest) if store is not None else None
    if record and record.get("v") == _VERSION:
        return record["entries"]
    with opener() as f:
        entries = scan(f, f"layer {digest}")
    if store is not None:
        store.put_record(LAYER_INDEX, digest, {"v": _VERSION, "entries": entries}, durable=False)
    return entries
