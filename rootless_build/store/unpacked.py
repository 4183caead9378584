"""The store's unpacked layers: each layer extracted once, inside the user namespace (so
ownership is kept), into $ROOT/layers/<chain-id>/diff in overlay lower-dir form, and shared
by every build step and container that stands on it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from rootless_build.errors import StoreError
from rootless_build.layers.extract import extract_layer
from rootless_build.store.image import Image
from rootless_build.store.lock import locked
from rootless_build.store.store import Store
from rootless_build.store.trees import remove_tree

Warn = Callable[[str], None]  # told of what extraction skipped
Extracting = Callable[[str], None]  # told of each layer (blob digest) this process extracts

def lower_dirs(store: Store, image: Image, *, warn: Warn | None = None) -> list[Path]:
    """The image's layers as overlay lower dirs, top-most first, unpacking what is missing."""
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
