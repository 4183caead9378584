"""A step's (or a container's) upper directory -> an uncompressed layer blob in the store.

One pass: the tar is written straight from the upper dir into a LayerSink, which hashes it
(the diff_id, also the digest: local layers are stored uncompressed) on its own thread.
Overlay drivers leave only the changes in the upper dir: their whiteouts (0/0 character
devices, opaque xattrs, fuse-overlayfs's `.wh.` files) become OCI whiteouts. vfs leaves a
full copy: the layer is its difference from the image's flat tree (store/unpacked.py),
compared in place.

Runs inside the user namespace: the files' owners read as container ids, so no id map is
needed, and the subordinate-id files of the flattened tree can be removed afterwards.

An overlay upper dir is also, as it stands, the new layer in the unpacked form lower dirs
take (0/0 whiteouts, `user.overlay.opaque`): `adopt_as_unpacked` renames it into the
store's layer cache, so the next step need not extract the layer it just wrote, and no one
waits for tens of thousands of files to be deleted.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rootless_build.layers.diff import write_diff
from rootless_build.layers.sink import LayerSink
from rootless_build.layers.tree import write_tree
from rootless_build.layers.whiteouts import FUSE_OPAQUE_DEVICE, WH_META_PREFIX, WH_OPAQUE, WH_PREFIX
from rootless_build.store.lock import locked
from rootless_build.store.tempblob import TempBlob
from rootless_build.store.trees import remove_tree

if TYPE_CHECKING:
    from rootless_build.store.store import Store

# The storage drivers by name (the sandbox's), and the whiteout format of each one's upper
# dir; vfs leaves a full copy instead.
VFS = "vfs"
FUSE_OVERLAY = "fuse-overlayfs"
_FORMATS = {"overlay": "overlay", FUSE_OVERLAY: "fuse-overlayfs"}


@dataclass(frozen=True)
class UpperLayer:
    diff_id: str        # == digest: the blob is the uncompressed tar
    size: int
    entries: int        # 0: the step changed nothing
    blob: TempBlob      # still open: keep() fsyncs and adopts it, discard() drops it


def write_upper_layer(store: Store, upperdir: Path, driver: str, *, lowerdirs: Sequence[Path] = (),
                      source_date_epoch: int | None = None,
                      skip: Callable[[str], bool] | None = None) -> UpperLayer:
    """Write the layer of `upperdir` (made by `driver`) to a temp file in the store's tmp
    dir. For vfs, `lowerdirs` is what the copy was made from: the image's flat tree
    (`unpacked.flat_lowers`), or nothing for a stage from scratch."""
    if driver == VFS and len(lowerdirs) > 1:
        raise ValueError("a vfs layer is the difference from one flat tree")
    blob = TempBlob(store.tmp_dir, prefix="layer-", what="writing a layer")
    try:
        with LayerSink(blob.file) as sink:
            if driver == VFS:
                entries = _write_vfs_diff(store, upperdir, lowerdirs, sink, source_date_epoch, skip)
            else:
                entries = write_tree(upperdir, sink, whiteout_format=_FORMATS[driver],
                                     source_date_epoch=source_date_epoch, skip=skip)
            result = sink.finish()
    except BaseException:
        blob.abort()
        raise
    return UpperLayer(result.diff_id, result.size, entries, blob)


def _write_vfs_diff(store: Store, full: Path, lowerdirs: Sequence[Path], sink: LayerSink,
                    epoch: int | None, skip: Callable[[str], bool] | None) -> int:
    if lowerdirs:
        return write_diff(lowerdirs[0], full, sink, source_date_epoch=epoch, skip=skip)
    empty = store.tmp_dir / "vfs-empty"     # a stage from scratch: the diff against nothing
    empty.mkdir(exist_ok=True)
    return write_diff(empty, full, sink, source_date_epoch=epoch, skip=skip)


def discard(layer: UpperLayer) -> None:
    """Drop a layer that is not wanted (nothing changed, or the build failed later)."""
    layer.blob.abort()


def keep(store: Store, layer: UpperLayer) -> None:
    """Make the layer durable and move it into the blob store under its digest."""
    layer.blob.commit(store.blobs, layer.diff_id)


def adopt_as_unpacked(store: Store, upperdir: Path, driver: str, chain_id: str) -> bool:
    """Move an upper dir into the store as the unpacked dir of `chain_id` (the chain of the
    layer just written from it): an overlay upper dir as its lower dir, a vfs full copy as
    its flat tree (the next step copies it; nobody deletes its files, 5 of 9 s of a cold
    20,000-file step on a busy disk). False when the layer is unpacked already; the caller
    then removes upperdir itself."""
    if driver == VFS:
        from rootless_build.store.unpacked import adopt_flat

        return adopt_flat(store, upperdir, chain_id)
    if driver == FUSE_OVERLAY:
        _kernel_markers(upperdir)
    final = store.unpacked_path(chain_id)
    final.parent.mkdir(parents=True, exist_ok=True)
    # The lock store/unpacked.py takes to extract a layer: the two never race for one chain id.
    with locked(final.parent / "lock"):
        if store.is_unpacked(chain_id):
            return False
        if os.path.lexists(final):
            remove_tree(final)          # left by an extraction that was killed
        os.rename(upperdir, final)
        store.mark_unpacked(chain_id)
    return True


def _kernel_markers(upperdir: Path) -> None:
    """fuse-overlayfs's own whiteout and opaque markers, rewritten the way kernel overlay
    (and store/unpacked.py's extraction) writes them, so every driver can stack the dir."""
    for dirpath, dirnames, filenames in os.walk(upperdir):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if name in (WH_OPAQUE, FUSE_OPAQUE_DEVICE):
                os.unlink(path)
                os.setxattr(dirpath, "user.overlay.opaque", b"y", follow_symlinks=False)
            elif name.startswith(WH_PREFIX) and not name.startswith(WH_META_PREFIX):
                os.unlink(path)
                target = os.path.join(dirpath, name[len(WH_PREFIX):])
                if not os.path.lexists(target):
                    os.mknod(target, stat.S_IFCHR | 0o600, os.makedev(0, 0))
        for name in dirnames:
            path = os.path.join(dirpath, name)
            try:
                opaque = os.getxattr(path, "user.fuseoverlayfs.opaque", follow_symlinks=False) == b"y"
            except OSError:
                opaque = False
            if opaque:
                os.setxattr(path, "user.overlay.opaque", b"y", follow_symlinks=False)
