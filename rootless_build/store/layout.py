"""The OCI image layout files: oci-layout and index.json (raw JSON, edited under a lock)."""

from __future__ import annotations

import json
from pathlib import Path

from rootless_build.errors import StoreError
from rootless_build.oci import mediatypes as mt
from rootless_build.store import atomic

LAYOUT_FILE = "oci-layout"
INDEX_FILE = "index.json"


def init_layout(root: Path) -> None:
    """Create the layout files if absent (idempotent; safe to race)."""
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    if not (root / LAYOUT_FILE).exists():
        atomic.write_bytes(root / LAYOUT_FILE, json.dumps({"imageLayoutVersion": mt.OCI_LAYOUT_VERSION}).encode())
    if not (root / INDEX_FILE).exists():
        write_index(root, [])


def read_index(root: Path) -> list[dict]:
    """The manifest descriptors of index.json, as plain dicts (kept as read)."""
    path = root / INDEX_FILE
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return []
    except ValueError as e:
        raise StoreError(f"{path} is not valid JSON ({e}); the store is damaged") from None
    manifests = data.get("manifests") or []
    if not isinstance(manifests, list):
        raise StoreError(f"{path}: 'manifests' is not a list; the store is damaged")
    return manifests


def write_index(root: Path, manifests: list[dict]) -> None:
    doc = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": manifests}
    atomic.write_bytes(root / INDEX_FILE, json.dumps(doc, indent=2).encode() + b"\n")


def ref_name(entry: dict) -> str | None:
    return (entry.get("annotations") or {}).get(mt.ANNOTATION_REF_NAME)
