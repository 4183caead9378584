"""Small images for build unit tests, made from layer tars written with the standard
library's tarfile (an independent writer), stored in a real store."""

from __future__ import annotations

import io
import json
import tarfile

from rootless_build.oci import mediatypes as mt
from rootless_build.oci.models import Descriptor
from rootless_build.store import Store


def layer_bytes(entries: list[tuple]) -> bytes:
    """entries: (name, kind, extra) with kind file|dir|symlink|hardlink; extra is the file's
    bytes, a link target, or None; optional 4th item: dict of TarInfo attributes."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for item in entries:
            name, kind, extra = item[:3]
            attrs = item[3] if len(item) > 3 else {}
            info = tarfile.TarInfo(name)
            info.mtime = 1_600_000_000
            info.mode = 0o755 if kind == "dir" else 0o644
            data = None
            if kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, extra
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, extra
            else:
                data = extra or b""
                info.size = len(data)
            for key, value in attrs.items():
                setattr(info, key, value)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def make_image(store: Store, layers: list[list[tuple]], config: dict | None = None, tag: str | None = None):
    descriptors, diff_ids = [], []
    for entries in layers:
        data = layer_bytes(entries)
        digest = store.blobs.put_bytes(data)
        descriptors.append(Descriptor(mediaType=mt.OCI_LAYER, digest=digest, size=len(data)))
        diff_ids.append(digest)
    doc = {"architecture": "amd64", "os": "linux", "config": config or {},
           "rootfs": {"type": "layers", "diff_ids": diff_ids},
           "history": [{"created_by": "test layer"} for _ in layers]}
    image = store.write_image(json.dumps(doc, sort_keys=True).encode(), descriptors)
    if tag:
        store.tag(image, tag)
    return image


BASE_LAYER = [
    ("etc", "dir", None),
    ("etc/passwd", "file", b"root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"),
    ("etc/group", "file", b"root:x:0:\napp:x:1000:\n"),
    ("tmp", "dir", None, {"mode": 0o1777}),
    ("usr", "dir", None),
    ("usr/bin", "dir", None),
    ("usr/bin/tool", "file", b"#!/bin/sh\n", {"mode": 0o755}),
    ("bin", "symlink", "usr/bin"),
]

