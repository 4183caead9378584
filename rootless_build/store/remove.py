"""Removing images by docker's rules: untag one of several tags, delete on the last one,
refuse (without force) what is in use or named several times; prune dangling/unused images.

Index edits happen here; blobs are freed afterwards by `collect` (gc under its lock).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rootless_build.errors import ImageNotFound, RootlessBuildError
from rootless_build.oci import digest as dg
from rootless_build.oci.reference import looks_like_id
from rootless_build.store import gc, layout, names
from rootless_build.store.image import Image
from rootless_build.store.store import Store
from rootless_build.store.trees import remove_tree

if TYPE_CHECKING:
    from rootless_build.store.scratch import Remover


class ImageConflict(RootlessBuildError):
    """docker's 'conflict: unable to delete ...' (exit 1)."""


@dataclass
class Removal:
    untagged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # image IDs


@dataclass(frozen=True)
class ContainerUse:
    id: str
    name: str


InUse = Mapping[str, Sequence[ContainerUse]]  # manifest digest -> containers (containers.usage)


def image_id_of(store: Store, manifest_digest: str) -> str:
    """The image ID (config digest) of a stored manifest; the manifest digest if unreadable,
    so a damaged image can still be named and removed."""
    try:
        digest = json.loads(store.blobs.path(manifest_digest).read_bytes())["config"]["digest"]
        return digest if isinstance(digest, str) else manifest_digest
    except (OSError, ValueError, KeyError, TypeError):
        return manifest_digest


def remove_image(store: Store, text: str, *, in_use: InUse, force: bool = False) -> Removal:
    """`rmi TEXT`: TEXT is a tag (untag it) or an image ID/digest (untag every tag).
    `in_use`: the images containers stand on, which the caller reads from their records."""
    with store.index_lock():
        entries = store.entries()
        tag, digest = _lookup(store, entries, text)
        users = list(in_use.get(digest, ()))
        image_id = image_id_of(store, digest)
        tags = [n for e in entries if e["digest"] == digest and (n := layout.ref_name(e))]
        if tag is not None:
            others = [n for n in tags if n != tag]
            if others:
                _write(store, [e for e in entries if layout.ref_name(e) != tag])
                return Removal(untagged=[tag])
            if users and not force:
                raise ImageConflict(f'conflict: unable to remove repository reference "{text}" (must force) - '
                                    f"container {_name(users[0])} is using its referenced image "
                                    f"{dg.short_id(image_id)}")
        else:
            if len(tags) > 1 and not force:
                raise ImageConflict(f"conflict: unable to delete {dg.short_id(image_id)} (must be forced) - "
                                    "image is referenced in multiple repositories")
            if users and not force:
                raise ImageConflict(f"conflict: unable to delete {dg.short_id(image_id)} (must be forced) - "
                                    f"image is being used by container {_name(users[0])}")
        rest = [e for e in entries if e["digest"] != digest]
        removal = Removal(untagged=[tag] if tag is not None else tags)
        if users:  # forced: the container keeps it alive; show it as <none> like docker
            rest.append({k: v for k, v in _entry_for(entries, digest).items() if k != "annotations"})
        else:
            removal.deleted.append(image_id)
        _write(store, rest)
        return removal


def collect(store: Store, *, in_use: InUse, remove: Remover = remove_tree) -> gc.PruneReport:
    """Free the blobs and unpacked layers nothing references any more."""
    with store.collecting():
        return gc.collect(store, in_use=set(in_use), remove=remove)


@dataclass
class ImagePrune:
    untagged: list[str]
    deleted: list[str]
    report: gc.PruneReport


def prune_images(store: Store, *, in_use: InUse, all_images: bool = False,
                 remove: Remover = remove_tree, eligible: Callable[[Image], bool] | None = None) -> ImagePrune:
    """Dangling images (and with all_images, every image no container uses, and the
    build cache), then everything they alone referenced. `eligible(image)` (prune's
    --filter) narrows the images removed; the build cache is then left alone."""
    if eligible is not None:
        return _prune_some(store, in_use, all_images, eligible, remove)
    untagged: list[str] = []
    dropped: list[str] = []
    if all_images:
        with store.index_lock():
            entries = store.entries()
            used = set(in_use)
            untagged = [n for e in entries if e["digest"] not in used and (n := layout.ref_name(e))]
            dropped = [e["digest"] for e in entries if e["digest"] not in used]
            if dropped:
                _write(store, [e for e in entries if e["digest"] in used])
    tagged = {e["digest"] for e in store.entries() if layout.ref_name(e)}
    dangling = dropped + [e["digest"] for e in store.entries() if e["digest"] not in tagged]
    deleted = list(dict.fromkeys(image_id_of(store, d) for d in dangling))
    report = gc.prune(store, in_use=set(in_use), dangling=True, build_cache=all_images, remove=remove)
    return ImagePrune(untagged, deleted, report)


def _prune_some(store: Store, in_use: InUse, all_images: bool, eligible: Callable[[Image], bool],
                remove: Remover) -> ImagePrune:
    with store.index_lock():
        entries = store.entries()
        used = set(in_use)
        tagged = {e["digest"] for e in entries if layout.ref_name(e)}
        chosen = {d for d in {e["digest"] for e in entries}
                  if d not in used and (all_images or d not in tagged) and eligible(store.load_image(d))}
        untagged = [n for e in entries if e["digest"] in chosen and (n := layout.ref_name(e))]
        if chosen:
            _write(store, [e for e in entries if e["digest"] not in chosen])
    deleted = list(dict.fromkeys(image_id_of(store, d) for d in chosen))
    report = gc.prune(store, in_use=set(in_use), dangling=False, remove=remove)
    return ImagePrune(untagged, deleted, report)


def _lookup(store: Store, entries: list[layout.Entry], text: str) -> tuple[str | None, str]:
    """(the tag TEXT names or None, manifest digest) or ImageNotFound."""
    try:
        wanted = names.normalize(text)
    except RootlessBuildError:
        if not looks_like_id(text):
            raise  # neither a name nor an ID: docker's "invalid reference format"
        wanted = None
    if wanted and "@" not in wanted:
        for entry in entries:
            name = layout.ref_name(entry)
            if name and names.same_image_name(name, wanted):
                return name, entry["digest"]
    tags: dict[str, list[str]] = {}
    for entry in entries:
        tags.setdefault(entry["digest"], [])
    digest = store._find_digest(text, tags)
    if digest is None:
        raise ImageNotFound(f"No such image: {text}")
    return None, digest


def _entry_for(entries: list[layout.Entry], digest: str) -> layout.Entry:
    return next(e for e in entries if e["digest"] == digest)


def _name(use: ContainerUse) -> str:
    short = use.id[:12]
    return f"{short} ({use.name})" if use.name else short


def _write(store: Store, entries: list[layout.Entry]) -> None:
    layout.write_index(store.root, entries)
