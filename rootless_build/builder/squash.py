"""`--squash` (the final stage's new layers become one) and `--squash-all` (the whole image
becomes one layer), applied to the built image before it is tagged.

History keeps every entry, as docker's --squash did: the squashed ones are marked
empty_layer, and one entry for the merged layer is added.
"""

from __future__ import annotations

from typing import Any

from rootless_build.builder import flatten
from rootless_build.builder.history import now_ns
from rootless_build.builder.imagefs import ImageFS
from rootless_build.builder.layerwrite import discard, keep, write_with
from rootless_build.oci import config as ic


def squash(builder: Any, image: Any, *, base_layers: int) -> Any:
    """The image with its layers above the first `base_layers` merged into one (0: all)."""
    config, layers = ic.from_image(image)
    if len(layers) - base_layers <= 1:
        return image                    # nothing to merge
    store = builder.store
    kept, merged = layers[:base_layers], layers[base_layers:]
    base = ImageFS(store, [(layer["digest"], layer["mediaType"]) for layer in kept])
    final = ImageFS(store, [(layer["digest"], layer["mediaType"]) for layer in layers])
    try:
        if base_layers == 0:
            written = write_with(store, lambda tar: flatten.write_tree(final, tar), epoch=builder.layer_epoch)
        else:
            new = {layer["digest"] for layer in merged}
            written = write_with(store, lambda tar: flatten.write_changes(base, final, new, tar),
                                 epoch=builder.layer_epoch)
    finally:
        base.close()
        final.close()
    try:
        keep(store, written)
    except BaseException:
        discard(written)
        raise
    config["rootfs"]["diff_ids"] = config["rootfs"]["diff_ids"][:base_layers]
    history = config.get("history") or []
    _mark_squashed(history, skip_layers=base_layers)
    new_layers = list(kept)
    ic.add_layer(config, new_layers, written.diff_id, written.size)
    created = ic.rfc3339(now_ns(builder.epoch))
    ic.add_history(config, created, f"/bin/sh -c #(nop) squash {len(merged)} layers into {written.diff_id}",
                   empty_layer=False)
    return builder.store.write_image(ic.to_bytes(config), new_layers,
                                     annotations=image.annotations)


def _mark_squashed(history: list[dict[str, Any]], *, skip_layers: int) -> None:
    """Every layer-bearing entry above the first `skip_layers` now has no layer of its own."""
    seen = 0
    for entry in history:
        if entry.get("empty_layer"):
            continue
        seen += 1
        if seen > skip_layers:
            entry["empty_layer"] = True
