"""The OCI image layout files: oci-layout and index.json (raw JSON, edited under a lock).

index.json is validated every time it is read, and a damaged or missing one is an error for
every command (IndexDamaged): read as "no images", it would let GC delete every blob. Only
a directory that never held a store gets a new, empty index. Each write also leaves a copy
in index.json.backup, from which `fsck --repair` recovers the tags.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from rootless_build.errors import StoreError
from rootless_build.oci import digest as dg
from rootless_build.oci import mediatypes as mt
from rootless_build.store import atomic

LAYOUT_FILE = "oci-layout"
INDEX_FILE = "index.json"
BACKUP_FILE = "index.json.backup"  # a copy of the last index written
Entry = dict[str, Any]  # one index.json descriptor, as JSON has it
REPAIR_HINT = "run `rootless-build fsck --repair` to rebuild it from the images in blobs/"


class IndexDamaged(StoreError):
    """index.json cannot be read or is malformed: nothing may change the store until repaired."""


def init_layout(root: Path) -> None:
    """Create the layout files of a new store (idempotent; safe to race). A store that has
    a layout file or blobs but no index.json is damaged, not new: its index is not invented."""
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    if not (root / INDEX_FILE).exists() and not _ever_initialised(root):
        # index first, oci-layout second: a layout file without an index means damage
        _create_no_clobber(root / INDEX_FILE, _index_bytes([]))
    if not (root / LAYOUT_FILE).exists():
        atomic.write_bytes(root / LAYOUT_FILE, json.dumps({"imageLayoutVersion": mt.OCI_LAYOUT_VERSION}).encode())


def _ever_initialised(root: Path) -> bool:
    if (root / LAYOUT_FILE).exists():
        return True
    with os.scandir(root / "blobs" / "sha256") as it:
        return any(True for _ in it)


def _create_no_clobber(path: Path, data: bytes) -> None:
    """Write a file only if none exists, atomically: a racing creator may have written an
    index and tagged an image in it already, which a plain rename would wipe out."""
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return
        atomic.fsync_dir(path.parent)
    finally:
        os.unlink(tmp)


def read_index(root: Path) -> list[Entry]:
    """The manifest descriptors of index.json, as plain dicts (kept as read), validated."""
    path = root / INDEX_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise IndexDamaged(f"{path} is missing; {REPAIR_HINT}") from None
    except OSError as e:
        raise IndexDamaged(f"{path} cannot be read ({e.strerror}); {REPAIR_HINT}") from None
    manifests, problem = parse_index(raw)
    if problem:
        raise IndexDamaged(f"{path}: {problem}; {REPAIR_HINT}")
    return manifests


def parse_index(raw: bytes) -> tuple[list[Entry], str | None]:
    """(the valid entries, the first problem or None): fsck --repair salvages the entries."""
    try:
        data = json.loads(raw)
    except ValueError as e:
        return [], f"not valid JSON ({e})"
    if not isinstance(data, dict):
        return [], f"the document is {_kind(data)}, not an object"
    manifests = data.get("manifests")
    if not isinstance(manifests, list):
        return [], f"'manifests' is {_kind(manifests)}, not a list"
    good: list[Entry] = []
    first: str | None = None
    for i, entry in enumerate(manifests):
        problem = entry_problem(entry)
        if problem is None:
            good.append(entry)
        elif first is None:
            first = f"manifests[{i}]{problem}"
    return good, first


_DIGEST = re.compile(r"sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}")  # as oci.digest accepts


def entry_problem(entry: object) -> str | None:
    """What is wrong with one index entry (a descriptor), or None."""
    if type(entry) is dict:  # the common case first, in one expression: every read checks every entry
        digest, size, annotations = entry.get("digest"), entry.get("size"), entry.get("annotations")
        if (type(entry.get("mediaType")) is str and type(digest) is str and _DIGEST.fullmatch(digest)
                and type(size) is int and size >= 0
                and (annotations is None or (type(annotations) is dict and all(
                    type(k) is str and type(v) is str for k, v in annotations.items())))):
            return None
    return _problem(entry)


def _problem(entry: object) -> str | None:
    if not isinstance(entry, dict):
        return f" is {_kind(entry)}, not an object"
    if not isinstance(entry.get("mediaType"), str):
        return ".mediaType is not a string"
    digest = entry.get("digest")
    if not isinstance(digest, str) or not dg.is_digest(digest):
        return f".digest {_short_repr(digest)} is not a valid digest"
    size = entry.get("size")
    if type(size) is not int or size < 0:
        return f".size {_short_repr(size)} is not a non-negative integer"
    annotations = entry.get("annotations")
    if annotations is not None and not (isinstance(annotations, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in annotations.items())):
        return ".annotations is not a map of strings"
    return None


def write_index(root: Path, manifests: list[Entry], *, keep_backup: bool = True) -> None:
    """Replace index.json (call with the index lock held, after reading it)."""
    data = _index_bytes(manifests)
    atomic.write_bytes(root / INDEX_FILE, data)
    if keep_backup:
        _write_backup(root, data)


def _index_bytes(manifests: list[Entry]) -> bytes:
    doc = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": manifests}
    return json.dumps(doc, indent=2).encode() + b"\n"


def _write_backup(root: Path, data: bytes) -> None:
    """A second copy of the index just written, for `fsck --repair` should index.json be
    damaged later (edited, truncated, deleted). Renamed into place but not fsynced (a few
    ms per tag otherwise): after a crash it may be stale or torn, and repair checks it."""
    tmp = root / f".{BACKUP_FILE}.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, root / BACKUP_FILE)


def ref_name(entry: Entry) -> str | None:
    name = (entry.get("annotations") or {}).get(mt.ANNOTATION_REF_NAME)
    return name if isinstance(name, str) else None


def _kind(value: object) -> str:
    return {type(None): "null", bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def _short_repr(value: object) -> str:
    text = json.dumps(value) if isinstance(value, (str, int, float, bool, type(None))) else _kind(value)
    return text if len(text) <= 80 else text[:77] + "..."
