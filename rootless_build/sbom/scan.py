"""Find the packages installed in a stored image: one pass over its layers (top first),
picking the package databases and artifacts by path, each read as the layer streams by."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import tarfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from rootless_build.sbom import gobinary
from rootless_build.sbom import packages as pk
from rootless_build.sbom.flatten import summarize, visible
from rootless_build.sbom.packages import Package

if TYPE_CHECKING:
    from rootless_build.store import Image, Store

DPKG_STATUS = "var/lib/dpkg/status"
DPKG_STATUS_D = "var/lib/dpkg/status.d/"
APK_DB = "lib/apk/db/installed"
RPM_SQLITE = ("var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite")
RPM_BDB = ("var/lib/rpm/Packages", "usr/lib/sysimage/rpm/Packages")
OS_RELEASE = ("etc/os-release", "usr/lib/os-release")
JARS = (".jar", ".war", ".ear")
MAX_DB = 256 << 20       # a package database read into memory (dpkg status is ~1 MiB)
MIN_GO_BINARY = 512 << 10
SUMMARY_VERSION = 2      # bump when what a layer summary holds changes


def _kind(path: str, member: tarfile.TarInfo) -> str | None:
    if path == DPKG_STATUS or path.startswith(DPKG_STATUS_D):
        return "dpkg"
    if path == APK_DB:
        return "apk"
    if path in RPM_SQLITE:
        return "rpm"
    if path in RPM_BDB:
        return "rpm-bdb"
    if path in OS_RELEASE:
        return "os-release"
    if path.endswith("/METADATA") and path[:-9].endswith(".dist-info"):
        return "python"
    if path.endswith(".egg-info/PKG-INFO") or (path.endswith(".egg-info") and member.isfile()):
        return "python"
    if path.endswith("/package.json") and _in_node_modules(path):
        return "npm"
    if path.endswith(JARS):
        return "jar"
    if member.mode & 0o111 and member.size >= MIN_GO_BINARY:
        return "elf"
    return None


def _in_node_modules(path: str) -> bool:
    """node_modules/NAME/package.json or node_modules/@SCOPE/NAME/package.json."""
    parts = path.split("/")
    return (len(parts) >= 3 and parts[-3] == "node_modules") or (
        len(parts) >= 4 and parts[-4] == "node_modules" and parts[-3].startswith("@"))


def _want(path: str, member: tarfile.TarInfo) -> bool:
    return member.isfile() and _kind(path, member) is not None


def _read(path: str, member: tarfile.TarInfo, reader: BinaryIO) -> dict | None:
    """What one wanted member holds, as JSON: {"os": ID} or {"packages": [...]}. The
    distribution of dpkg/apk/rpm packages is filled in later (os-release may be elsewhere)."""
    kind = _kind(path, member)
    if kind == "os-release":
        return {"os": _os_id(reader.read(1 << 16))}
    if kind == "dpkg":
        found = pk.dpkg(reader.read(MAX_DB), path, "")
    elif kind == "apk":
        found = pk.apk(reader.read(MAX_DB), path, "")
    elif kind == "rpm":
        with _spilled(reader) as tmp:
            found = pk.rpm_sqlite(tmp, path, "")
    elif kind == "rpm-bdb":
        found = pk.rpm_bdb(_seekable(reader, member.size), path, "")
    elif kind == "python":
        found = pk.python_metadata(reader.read(1 << 20), path)
    elif kind == "npm":
        found = pk.npm(reader.read(1 << 20), path)
    elif kind == "jar":
        found = pk.jar(_seekable(reader, member.size), path)
    elif kind == "elf" and reader.read(4) == b"\x7fELF":
        found = gobinary.scan(_seekable(reader, member.size, rewind=True), member.size, path)
    else:
        return None
    return {"packages": [dataclasses.asdict(p) for p in found]} if found else None


# (layer digest, opener of its uncompressed tar: a context manager)
LayerSource = tuple[str, Callable[[], AbstractContextManager[BinaryIO]]]


def find_packages(layers: list[LayerSource], cache: LayerCache | None = None) -> list[Package]:
    """Every package the flattened image shows, sorted by (type, name, version, location);
    `layers` top layer first. `cache` (get(key) -> dict | None, put(key, dict)) keeps each
    layer's summary by digest, so a layer is read once per store."""
    summaries = []
    for digest, open_layer in layers:
        summary = cache.get(digest) if cache is not None else None
        if summary is None or summary.get("version") != SUMMARY_VERSION:
            with open_layer() as stream:
                summary = summarize(stream, _want, _read)
            summary["version"] = SUMMARY_VERSION
            if cache is not None:
                cache.put(digest, summary)
        summaries.append(summary)
    distro, found = "", []
    for _path, result in visible(summaries):
        if "os" in result:
            distro = distro or result["os"]
        found += [Package(**p) for p in result.get("packages", ())]
    defaults = {"deb": distro or "debian", "apk": distro or "alpine", "rpm": distro}
    found = [dataclasses.replace(p, namespace=defaults[p.type]) if p.type in defaults and not p.namespace else p
             for p in found]
    unique = {(p.type, p.namespace, p.name, p.version, p.location): p for p in found}
    return sorted(unique.values(), key=lambda p: (p.type, p.name, p.version, p.location))


def _os_id(data: bytes) -> str:
    for line in data.decode("utf-8", "replace").splitlines():
        if line.startswith("ID="):
            return line[3:].strip().strip('"').lower()
    return ""


def _seekable(reader: BinaryIO, size: int, rewind: bool = False) -> BinaryIO:
    """The member itself when the layer is a seekable file, else its bytes in memory."""
    try:
        reader.seek(0)
        return reader
    except (OSError, AttributeError, tarfile.StreamError, io.UnsupportedOperation):
        pass
    head = b"\x7fELF" if rewind else b""
    return io.BytesIO(head + reader.read(min(size, MAX_DB)))


@contextlib.contextmanager
def _spilled(reader: BinaryIO) -> Iterator[str]:
    """sqlite needs a file: the member copied to a temp file, removed afterwards."""
    import shutil
    import tempfile

    with tempfile.NamedTemporaryFile(prefix="rb-rpmdb-", suffix=".sqlite") as tmp:
        shutil.copyfileobj(reader, tmp)
        tmp.flush()
        yield tmp.name


def layer_openers(store: Store, image: Image) -> list[LayerSource]:
    """Openers for the image's layers as uncompressed tars, top layer first; a plain blob
    is opened as the file itself (seekable, so only the wanted members are read)."""
    from rootless_build.layers.compression import open_uncompressed, sniff

    def opener(digest: str) -> Callable[[], AbstractContextManager[BinaryIO]]:
        @contextlib.contextmanager
        def open_layer() -> Iterator[BinaryIO]:
            with store.blobs.open_raw(digest) as f:  # seekable (unverified): read in parts
                head = f.read(4)
                f.seek(0)
                if not sniff(head):
                    yield f
                    return
                with open_uncompressed(f) as stream:
                    yield cast(BinaryIO, stream)  # tarfile reads it as one (read, seekable)
        return open_layer

    return [(digest, opener(digest)) for digest in reversed(image.layer_digests)]


class LayerCache:
    """Layer summaries as store records (kind "sbom-layer", dropped by gc with the blob)."""

    KIND = "sbom-layer"

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, digest: str) -> dict[str, Any] | None:
        return self.store.get_record(self.KIND, digest)

    def put(self, digest: str, summary: dict[str, Any]) -> None:
        self.store.put_record(self.KIND, digest, summary)
