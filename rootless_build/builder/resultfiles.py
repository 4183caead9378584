"""What a build does to its result alone, never to a step (so no cache key changes): the
config edits of --label, --env, --inherit-labels=false, --unsetenv, --unsetlabel, and the
files written beside it, --iidfile and --metadata-file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rootless_build.errors import UsageError
from rootless_build.oci import config as ic

if TYPE_CHECKING:
    from rootless_build.builder.options import BuildOptions


def edited_result(image: Any, options: BuildOptions,
                  base_labels: dict[str, str]) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """(config, layers) of the image with the result edits applied, or None when the options
    ask for none. `base_labels`: the target's base image labels (--inherit-labels=false)."""
    if not (options.labels or not options.inherit_labels or options.unset_env or options.unset_labels
            or options.annotations or options.image_env):
        return None
    config, layers = ic.from_image(image)
    inner = ic.container(config)
    labels = dict(inner.get("Labels") or {})
    if not options.inherit_labels:
        for key, value in base_labels.items():
            if labels.get(key) == value:
                del labels[key]
    labels.update(options.labels)
    for key in options.unset_labels:
        labels.pop(key, None)
    if labels or "Labels" in inner:
        inner["Labels"] = labels
    if options.image_env:   # buildah's --env: in the image, not in the steps
        config["config"] = inner = ic.with_env(inner, options.image_env.items())
    if options.unset_env:
        inner["Env"] = [item for item in ic.env_list(config) if item.partition("=")[0] not in options.unset_env]
    return config, layers


def write_metadata(path: str, image: Any, names: list[str]) -> None:
    """--metadata-file: the keys BuildKit writes for an image result."""
    import json

    raw = image.manifest_bytes
    metadata: dict[str, Any] = {
        "containerimage.config.digest": image.id,
        "containerimage.descriptor": {"mediaType": image.manifest_json.get("mediaType"),
                                      "digest": image.manifest_digest, "size": len(raw)},
        "containerimage.digest": image.manifest_digest,
    }
    if names:
        metadata["image.name"] = ",".join(names)
    try:
        with open(path, "w") as f:
            json.dump(metadata, f, indent=2, sort_keys=True)
            f.write("\n")
    except OSError as e:
        raise UsageError(f"cannot write --metadata-file {path}: {e.strerror}") from None


def write_iidfile(path: str, image_id: str) -> None:
    """--iidfile: the image (or list) ID alone, no newline, as docker and buildah write it."""
    try:
        with open(path, "w") as f:
            f.write(image_id)
    except OSError as e:
        raise UsageError(f"cannot write --iidfile {path}: {e.strerror}") from None
