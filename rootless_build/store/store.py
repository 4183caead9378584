"""The per-user store: an OCI image layout plus state kept beside it (see HACKING.md)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from rootless_build.errors import ImageNotFound, RootlessBuildError, StoreError
from rootless_build.oci import digest as dg
from rootless_build.oci import mediatypes as mt
from rootless_build.oci.documents import InvalidDocument, load_json, sniff_media_type
from rootless_build.oci.reference import looks_like_id
from rootless_build.store import atomic, layout, names
from rootless_build.store.blobs import DirBlobStore
from rootless_build.store.boot import boot_id
from rootless_build.store.image import Image
from rootless_build.store.lock import locked
from rootless_build.store.paths import default_root
from rootless_build.store.scratch import Scratch
from rootless_build.store.spread import spread_subdirectories
from rootless_build.store.trees import remove_tree


class Store:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.tmp_root = self.root / "tmp"
        self.scratch = Scratch(self.tmp_root, remove_tree)
        self.layers_dir = self.root / "layers"
        self.cache_dir = self.root / "cache"
        self.containers_dir = self.root / "containers"
        self.blobs: DirBlobStore = DirBlobStore(self.root / "blobs", self.scratch)

    @property
    def tmp_dir(self) -> Path:
        """This process's temp space in the store (store/scratch.py), made on first use."""
        return self.scratch.path

    @classmethod
    def open(cls, root: Path | str | None = None) -> Store:
        store = cls(Path(root) if root else default_root())
        try:
            store.root.mkdir(parents=True, exist_ok=True)
            layout.init_layout(store.root)
            for d in (store.tmp_root, store.layers_dir, store.cache_dir, store.containers_dir):
                d.mkdir(exist_ok=True)
            for d in (store.tmp_root, store.layers_dir, store.containers_dir):
                spread_subdirectories(d)
        except OSError as e:
            raise StoreError(f"cannot use store {store.root}: {e.strerror or e}") from None
        return store

    # -- locks ---------------------------------------------------------------

    def index_lock(self) -> AbstractContextManager[None]:
        return locked(self.root / "index.lock")

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Held (shared) by anything that adds blobs, so prune never races it. Refuses a
        store whose index is damaged before anything is written (store/layout.py)."""
        with locked(self.root / "gc.lock", exclusive=False):
            layout.read_index(self.root)
            yield

    def collecting(self) -> AbstractContextManager[None]:
        return locked(self.root / "gc.lock", exclusive=True)

    @contextmanager
    def temp_dir(self, prefix: str = "work-") -> Iterator[Path]:
        import tempfile  # lazily: a cached build needs none (see store/atomic.py)

        path = Path(tempfile.mkdtemp(dir=self.tmp_dir, prefix=prefix))
        try:
            yield path
        finally:
            remove_tree(path)

    # -- reading images --------------------------------------------------------

    def load_image(self, manifest_digest: str, tags: tuple[str, ...] = ()) -> Image:
        raw = self.blobs.read(manifest_digest)
        if sniff_media_type(raw) in mt.INDEXES:
            raise StoreError(f"{manifest_digest} is an image index, not an image")
        config = load_json(raw, "manifest").get("config")
        if not isinstance(config, dict) or not isinstance(config.get("digest"), str):
            raise InvalidDocument(f"manifest {manifest_digest} has no config descriptor")
        return Image(manifest_digest, raw, self.blobs.read(config["digest"]), tags)

    def entries(self) -> list[layout.Entry]:
        return layout.read_index(self.root)

    def tags_by_digest(self) -> dict[str, list[str]]:
        """Manifest digest -> its tags, in index order (an untagged entry maps to [])."""
        out: dict[str, list[str]] = {}
        for entry in self.entries():
            if entry.get("mediaType") in mt.INDEXES:
                continue  # a manifest list (store.lists), not an image
            tags = out.setdefault(entry["digest"], [])
            name = layout.ref_name(entry)
            if name:
                tags.append(name)
        return out

    def images(self) -> list[Image]:
        return [self.load_image(d, tuple(t)) for d, t in self.tags_by_digest().items()]

    def resolve(self, text: str) -> Image:
        """A tag, a short name, name@digest, a full or short image ID, or a manifest digest."""
        tags = self.tags_by_digest()
        digest = self._find_digest(text, tags)
        if digest is None:
            raise ImageNotFound(f"image not known: {text}")
        return self.load_image(digest, tuple(tags.get(digest, ())))

    def _find_digest(self, text: str, tags: dict[str, list[str]]) -> str | None:
        try:
            wanted = names.normalize(text)
        except RootlessBuildError:
            if not looks_like_id(text):
                raise  # neither a name nor an ID: docker's "invalid reference format"
            wanted = None
        if wanted and "@" not in wanted:
            for digest, names_ in tags.items():
                if any(names.same_image_name(n, wanted) for n in names_):
                    return digest
        if "@" in text:
            digest = text.split("@", 1)[1]
            return digest if digest in tags else None
        return self._find_by_id(text.removeprefix("sha256:"), tags)

    def _find_by_id(self, prefix: str, tags: dict[str, list[str]]) -> str | None:
        if len(prefix) < 3 or any(c not in "0123456789abcdef" for c in prefix):
            return None
        hits = set()
        for digest in tags:
            hexpart = digest.split(":", 1)[1]
            if hexpart.startswith(prefix):
                hits.add(digest)
                continue
            try:
                config_id = load_json(self.blobs.read(digest))["config"]["digest"]
            except Exception:
                continue
            if config_id.split(":", 1)[1].startswith(prefix):
                hits.add(digest)
        if len(hits) > 1:
            raise ImageNotFound(f"short ID {prefix} is ambiguous")
        return hits.pop() if hits else None

    # -- writing images ----------------------------------------------------------

    def write_image(self, config_bytes: bytes, layers: list[Any], *, docker: bool = False,
                    annotations: dict[str, str] | None = None) -> Image:
        """Store a config and a manifest over already stored layer blobs (not tagged yet);
        `layers` are oci.models.Descriptor values or descriptor dicts as JSON has them."""
        config_digest = self.blobs.put_bytes(config_bytes)
        manifest = {
            "schemaVersion": 2,
            "mediaType": mt.DOCKER_MANIFEST if docker else mt.OCI_MANIFEST,
            "config": {"mediaType": mt.DOCKER_CONFIG if docker else mt.OCI_CONFIG,
                       "digest": config_digest, "size": len(config_bytes)},
            "layers": [layer if isinstance(layer, dict) else
                       layer.model_dump(mode="json", by_alias=True, exclude_none=True) for layer in layers],
        }
        if annotations:
            manifest["annotations"] = annotations
        raw = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
        digest = self.blobs.put_bytes(raw)
        return self.load_image(digest)

    def add_manifest(self, raw: bytes) -> Image:
        """Store manifest bytes as they are (pull, load): its blobs must be present already."""
        digest = self.blobs.put_bytes(raw)
        return self.load_image(digest)

    def tag(self, image: Image, name: str) -> None:
        name = names.normalize(name)
        with self.index_lock():
            entries = self.entries()
            if any(e["digest"] == image.manifest_digest and layout.ref_name(e) == name for e in entries):
                return  # already so (a cached build re-tags): no index write, no fsync
            for entry in entries:
                if layout.ref_name(entry) == name:
                    del entry["annotations"][mt.ANNOTATION_REF_NAME]
            entries = [e for e in entries if not (e["digest"] == image.manifest_digest and not layout.ref_name(e))]
            entries.append(self._entry(image, name))
            layout.write_index(self.root, _drop_redundant_untagged(entries))

    def add_untagged(self, image: Image) -> None:
        """Keep an image without a tag (load/pull by digest): shown as <none>."""
        with self.index_lock():
            entries = self.entries()
            if not any(e["digest"] == image.manifest_digest for e in entries):
                entries.append(self._entry(image, None))
                layout.write_index(self.root, entries)

    def untag(self, name: str) -> tuple[Image, bool]:
        """Remove one tag; returns the image and whether it was its last reference."""
        with self.index_lock():
            entries = self.entries()
            wanted = names.normalize(name)
            hit = next((e for e in entries if names.same_image_name(layout.ref_name(e) or "", wanted)), None)
            if hit is None:
                raise ImageNotFound(f"image not known: {name}")
            entries.remove(hit)
            last = not any(e["digest"] == hit["digest"] for e in entries)
            layout.write_index(self.root, entries)
        return self.load_image(hit["digest"]), last

    def remove(self, image: Image) -> None:
        with self.index_lock():
            entries = [e for e in self.entries() if e["digest"] != image.manifest_digest]
            layout.write_index(self.root, entries)

    def _entry(self, image: Image, name: str | None) -> layout.Entry:
        entry = {"mediaType": image.media_type,
                 "digest": image.manifest_digest, "size": len(image.manifest_bytes)}
        if name:
            entry["annotations"] = {mt.ANNOTATION_REF_NAME: name}
        return entry

    # -- small records beside the layout -------------------------------------------

    def record_path(self, kind: str, key: str) -> Path:
        """A file for a small record (build cache key, compressed variant, ...)."""
        safe = key.replace(":", "-").replace("/", "_")
        return self.cache_dir / kind / safe

    def get_record(self, kind: str, key: str) -> dict[str, Any] | None:
        try:
            value = json.loads(self.record_path(kind, key).read_bytes())
            return value if isinstance(value, dict) else None
        except (FileNotFoundError, ValueError):
            return None

    def put_record(self, kind: str, key: str, value: dict[str, Any], *, durable: bool = True) -> None:
        """durable=False for a note derived from a blob (made again from it when missing):
        not fsynced; one torn by a crash reads as missing (get_record)."""
        path = self.record_path(kind, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_bytes(path, json.dumps(value, sort_keys=True).encode(), durable=durable)

    def delete_record(self, kind: str, key: str) -> None:
        try:
            os.unlink(self.record_path(kind, key))
        except FileNotFoundError:
            pass

    def record_names(self, kind: str) -> list[str]:
        """The file names of a kind's records (a key with ':' and '/' made safe), unread."""
        try:
            return os.listdir(self.cache_dir / kind)
        except FileNotFoundError:
            return []

    def records(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        folder = self.cache_dir / kind
        if not folder.is_dir():
            return
        for path in folder.iterdir():
            try:
                value = json.loads(path.read_bytes())
            except (ValueError, OSError):
                continue
            if isinstance(value, dict):  # (a record is an object; anything else is damage)
                yield path.name, value

    # -- unpacked layers ----------------------------------------------------------

    def unpacked_path(self, chain_id: str) -> Path:
        """Directory of one unpacked layer (an overlay lower dir), keyed by chain id."""
        return self.layers_dir / dg.parse(chain_id)[1] / "diff"

    def is_unpacked(self, chain_id: str) -> bool:
        """Whether the layer's unpacked dir is complete and can be trusted. Its files are
        never fsynced (that would cost more than the extraction): the marker names the boot
        that made it, and a dir from another boot, or whose marker a crash left empty, counts
        as missing, to be extracted again from its blob (blobs are fsynced)."""
        try:
            stamp = (self.layers_dir / dg.parse(chain_id)[1] / "complete").read_text()
        except FileNotFoundError:
            return False
        return stamp.strip() == boot_id()

    def mark_unpacked(self, chain_id: str) -> None:
        (self.layers_dir / dg.parse(chain_id)[1] / "complete").write_text(boot_id())


def _drop_redundant_untagged(entries: list[layout.Entry]) -> list[layout.Entry]:
    """An image that lost its last tag to a re-tag stays as one untagged (dangling) entry."""
    out, seen = [], set()
    tagged = {e["digest"] for e in entries if layout.ref_name(e)}
    for e in entries:
        if layout.ref_name(e):
            out.append(e)
        elif e.get("mediaType") in mt.INDEXES:
            continue  # a manifest list that lost its name to an image is gone
        elif e["digest"] not in tagged and e["digest"] not in seen:
            seen.add(e["digest"])
            out.append({k: v for k, v in e.items() if k != "annotations" or v})
    return out
