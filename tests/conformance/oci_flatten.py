"""An OCI image layout read back as its config and its flattened filesystem: every
layer applied in order, whiteouts and opaque directories honoured, as a runtime would
see the root filesystem. Used to compare our images with Docker's, path by path."""

from __future__ import annotations

import hashlib
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"

_KINDS = {tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.DIRTYPE: "dir",
          tarfile.SYMTYPE: "symlink", tarfile.CHRTYPE: "char", tarfile.BLKTYPE: "block",
          tarfile.FIFOTYPE: "fifo", tarfile.CONTTYPE: "file"}


@dataclass
class FsEntry:
    kind: str
    mode: int  # permission bits and setuid/setgid/sticky
    uid: int
    gid: int
    mtime: int
    size: int = 0
    linkname: str = ""
    sha256: str = ""
    xattrs: dict[str, str] = field(default_factory=dict)
    device: tuple[int, int] = (0, 0)


@dataclass
class Image:
    config: dict
    files: dict[str, FsEntry]  # "/abs/path" -> entry; "/" is the root
    entries_below_symlinks: list[str]  # layer members written beneath a symlink (a bug)


def read_layout(layout: Path, tag: str | None = None) -> Image:
    """The image tagged `tag` (or the only one) in the OCI layout at `layout`."""
    index = json.loads((layout / "index.json").read_text())
    manifests = index["manifests"]
    if tag is not None:
        named = [m for m in manifests
                 if m.get("annotations", {}).get("org.opencontainers.image.ref.name") in (tag, tag.rpartition(":")[2])]
        manifests = named or manifests
    manifest = json.loads(_blob(layout, manifests[0]["digest"]).read_bytes())
    if "manifests" in manifest:  # an index: take its first image
        manifest = json.loads(_blob(layout, manifest["manifests"][0]["digest"]).read_bytes())
    config = json.loads(_blob(layout, manifest["config"]["digest"]).read_bytes())
    files: dict[str, FsEntry] = {"/": FsEntry("dir", 0o755, 0, 0, 0)}
    below: list[str] = []
    for layer in manifest["layers"]:
        _apply(_blob(layout, layer["digest"]), files, below)
    return Image(config, files, below)


def _blob(layout: Path, digest: str) -> Path:
    algorithm, _, hexdigest = digest.partition(":")
    return layout / "blobs" / algorithm / hexdigest


def _apply(blob: Path, files: dict[str, FsEntry], below: list[str]) -> None:
    layer: dict[str, FsEntry] = {}  # what this layer adds, applied after its whiteouts
    whiteouts: list[str] = []
    opaque: list[str] = []
    with tarfile.open(blob, "r:*") as tar:
        for member in tar:
            path = "/" + member.name.strip("/").removeprefix("./")
            path = "/" if path in ("/", "/.") else path.rstrip("/")
            parent, _, name = path.rpartition("/")
            parent = parent or "/"
            if _beneath_symlink(path, files, layer):
                below.append(path)
            if name == OPAQUE:
                opaque.append(parent)
                continue
            if name.startswith(WHITEOUT):
                whiteouts.append(f"{parent.rstrip('/')}/{name[len(WHITEOUT):]}")
                continue
            if member.islnk():
                target = "/" + member.linkname.strip("/").removeprefix("./")
                source = layer.get(target) or files.get(target)
                if source is not None:
                    layer[path] = FsEntry(**{**source.__dict__, "xattrs": dict(source.xattrs)})
                continue
            entry = FsEntry(_KINDS.get(member.type, f"type-{member.type!r}"), member.mode & 0o7777,
                            member.uid, member.gid, int(member.mtime),
                            linkname=member.linkname if member.issym() else "",
                            xattrs={k[len("SCHILY.xattr."):]: v for k, v in member.pax_headers.items()
                                    if k.startswith("SCHILY.xattr.")},
                            device=(member.devmajor, member.devminor) if member.ischr() or member.isblk() else (0, 0))
            if member.isfile():
                digest = hashlib.sha256()
                stream = tar.extractfile(member)
                assert stream is not None
                while chunk := stream.read(1 << 20):
                    digest.update(chunk)
                entry.size = member.size
                entry.sha256 = digest.hexdigest()
            layer[path] = entry
    for directory in opaque:
        prefix = directory.rstrip("/") + "/"
        for path in [p for p in files if p.startswith(prefix)]:
            del files[path]
    for gone in whiteouts:
        prefix = gone + "/"
        for path in [p for p in files if p == gone or p.startswith(prefix)]:
            del files[path]
    for path in sorted(layer):
        entry = layer[path]
        old = files.get(path)
        if old is not None and (old.kind == "dir") != (entry.kind == "dir") and old.kind == "dir":
            prefix = path + "/"
            for child in [p for p in files if p.startswith(prefix)]:
                del files[child]
        files[path] = entry


def _beneath_symlink(path: str, files: dict[str, FsEntry], layer: dict[str, FsEntry]) -> bool:
    """Whether a parent of `path` is a symlink in the image so far or in this layer."""
    parts = path.strip("/").split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        parent = "/" + "/".join(parts[:depth])
        entry = layer.get(parent) or files.get(parent)
        if entry is not None and entry.kind == "symlink":
            return True
    return False
