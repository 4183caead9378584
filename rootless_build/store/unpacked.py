"""The store's unpacked layers: each layer extracted once, inside the user namespace (so
ownership is kept), into $ROOT/layers/<chain-id>/diff in overlay lower-dir form, and shared
by every build step and container that stands on it.

The vfs driver takes instead the image's filesystem as one plain tree,
$ROOT/layers/<chain-id>/flat: the layers applied in order onto a copy of the nearest flat
tree below (whiteouts as deletions), so it never needs an overlay whiteout on disk. A store
on a container's own overlay root cannot hold one (overlay refuses to create a 0/0 device;
fuse-overlayfs hides it, refuses `.wh.` names and drops `user.overlay.*` xattrs), and the
step's copy of one tree is all vfs does with its lowers anyway.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from rootless_build.errors import StoreError
from rootless_build.layers.extract import extract_layer
from rootless_build.layers.fsops import copy_tree
from rootless_build.store.boot import boot_id
from rootless_build.store.image import Image
from rootless_build.store.lock import locked
from rootless_build.store.store import Store
from rootless_build.store.trees import remove_tree

Warn = Callable[[str], None]  # told of what extraction skipped
Extracting = Callable[[str], None]  # told of each layer (blob digest) this process extracts

def lower_dirs(store: Store, image: Image, *, warn: Warn | None = None, flat: bool = False) -> list[Path]:
    """The image's layers as overlay lower dirs, top-most first, unpacking what is missing;
    flat (the vfs driver): its one flat tree, or none for an image without layers."""
    if flat:
        return flat_lowers(store, image.chain_ids, image.layer_digests, warn=warn)
    return list(reversed(ensure_unpacked(store, image.chain_ids, image.layer_digests, warn=warn)))


def ensure_unpacked(store: Store, chain_ids: list[str], blob_digests: list[str], *,
                    warn: Warn | None = None, extracting: Extracting | None = None) -> list[Path]:
    """Unpacked dirs bottom-up for the given chain; extraction is locked per chain id and
    done into a temp dir renamed into place, so concurrent builds never see half a layer
    and never extract one twice (the second waits on the lock, then finds it done)."""
    if len(chain_ids) != len(blob_digests):
        raise StoreError("image config and manifest disagree on the number of layers")
    dirs: list[Path] = []
    for chain_id, blob in zip(chain_ids, blob_digests, strict=True):
        path = store.unpacked_path(chain_id)
        if not store.is_unpacked(chain_id):
            _unpack(store, chain_id, blob, list(reversed(dirs)), warn, extracting)
        dirs.append(path)
    return dirs


def _unpack(store: Store, chain_id: str, blob: str, lowers_topmost_first: list[Path],
            warn: Warn | None, extracting: Extracting | None) -> None:
    layer_dir = store.unpacked_path(chain_id).parent
    layer_dir.mkdir(parents=True, exist_ok=True)
    with locked(layer_dir / "lock"):
        if store.is_unpacked(chain_id):
            return
        if extracting is not None:
            extracting(blob)
        chown = os.getuid() == 0  # root of our user namespace: ids map onto the sub-id range
        tmp = Path(tempfile.mkdtemp(dir=layer_dir, prefix="unpack-"))
        os.chmod(tmp, 0o755)    # the layer's root: mkdtemp's 0700 would lock users out of /
        try:
            with store.blobs.open(blob) as f:
                extract_layer(f, tmp, mode="overlay", chown=chown, skip_devices=True,
                              on_warning=warn, lower_dirs=lowers_topmost_first)
            final = store.unpacked_path(chain_id)
            if final.exists():
                remove_tree(final)
            os.replace(tmp, final)
        except BaseException:
            remove_tree(tmp)
            raise
        store.mark_unpacked(chain_id)


# --- flat trees (vfs) ----------------------------------------------------------------------

def flat_path(store: Store, chain_id: str) -> Path:
    return store.unpacked_path(chain_id).parent / "flat"


def is_flat(store: Store, chain_id: str) -> bool:
    """Complete and of this boot (never fsynced: see Store.is_unpacked)."""
    try:
        stamp = (store.unpacked_path(chain_id).parent / "flat-complete").read_text()
    except FileNotFoundError:
        return False
    return stamp.strip() == boot_id()


def _mark_flat(store: Store, chain_id: str) -> None:
    (store.unpacked_path(chain_id).parent / "flat-complete").write_text(boot_id())


def flat_lowers(store: Store, chain_ids: list[str], blob_digests: list[str], *,
                warn: Warn | None = None) -> list[Path]:
    """[the flat tree of the chain's top layer], made if missing; [] for no layers."""
    if len(chain_ids) != len(blob_digests):
        raise StoreError("image config and manifest disagree on the number of layers")
    if not chain_ids:
        return []
    top = chain_ids[-1]
    final = flat_path(store, top)
    if is_flat(store, top):
        return [final]
    final.parent.mkdir(parents=True, exist_ok=True)
    with locked(final.parent / "lock"):
        if not is_flat(store, top):
            _make_flat(store, chain_ids, blob_digests, warn)
    return [final]


def _make_flat(store: Store, chain_ids: list[str], blob_digests: list[str], warn: Warn | None) -> None:
    # Start from the nearest flat tree below (a build's previous step made it), else empty.
    start = next((i for i in range(len(chain_ids) - 2, -1, -1) if is_flat(store, chain_ids[i])), -1)
    final = flat_path(store, chain_ids[-1])
    chown = os.getuid() == 0  # root of our user namespace: ids map onto the sub-id range
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix="unpack-flat-"))
    os.chmod(tmp, 0o755)
    try:
        if start >= 0:
            copy_tree(flat_path(store, chain_ids[start]), tmp)
        for blob in blob_digests[start + 1:]:
            with store.blobs.open(blob) as f:
                extract_layer(f, tmp, mode="apply", chown=chown, skip_devices=True, on_warning=warn)
        if os.path.lexists(final):
            remove_tree(final)          # left by an extraction that was killed
        os.replace(tmp, final)
    except BaseException:
        remove_tree(tmp)
        raise
    _mark_flat(store, chain_ids[-1])


def adopt_flat(store: Store, full: Path, chain_id: str) -> bool:
    """A vfs step's full copy becomes the flat tree of the chain of the layer written from
    it (what applying that layer onto the copy's origin gives); False if one is there."""
    final = flat_path(store, chain_id)
    final.parent.mkdir(parents=True, exist_ok=True)
    with locked(final.parent / "lock"):
        if is_flat(store, chain_id):
            return False
        if os.path.lexists(final):
            remove_tree(final)          # left by an extraction that was killed
        os.rename(full, final)
        _mark_flat(store, chain_id)
    return True
