"""The image config being built, as a plain JSON dict (unknown fields of a base survive).

Small pure helpers; the handlers decide what to change and the builder commits it.
"""

from __future__ import annotations

import copy
import json

from rootless_build.oci import mediatypes as mt

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHELL = ["/bin/sh", "-c"]


def scratch_config(os_name: str, arch: str, variant: str) -> dict:
    # BuildKit starts FROM scratch with WorkingDir "/"
    config = {"architecture": arch, "os": os_name, "config": {"WorkingDir": "/"}, "rootfs": {"type": "layers", "diff_ids": []},
              "history": []}
    if variant:
        config["variant"] = variant
    return config


def from_image(image) -> tuple[dict, list[dict]]:
    """(config dict, manifest layer descriptors) of a stored image, as independent copies."""
    config = json.loads(image.config_bytes)
    manifest = json.loads(image.manifest_bytes)
    config.setdefault("rootfs", {"type": "layers", "diff_ids": []})
    config["rootfs"].setdefault("diff_ids", [])
    config.setdefault("history", [])
    if not isinstance(config.get("config"), dict):
        config["config"] = {}
    return config, [dict(layer) for layer in manifest.get("layers", [])]


def clone(config: dict) -> dict:
    return copy.deepcopy(config)


def container(config: dict) -> dict:
    """The `config` object inside the image config (Env, Cmd, ...), created if absent."""
    inner = config.get("config")
    if not isinstance(inner, dict):
        inner = config["config"] = {}
    return inner


def env_list(config: dict) -> list[str]:
    return list(container(config).get("Env") or [])


def env_map(config: dict) -> dict[str, str]:
    out = {}
    for item in env_list(config):
        key, _, value = item.partition("=")
        out[key] = value
    return out


def set_env(config: dict, key: str, value: str) -> None:
    """Replace a variable in place (keeping its position), or append it."""
    items = env_list(config)
    for index, item in enumerate(items):
        if item.partition("=")[0] == key:
            items[index] = f"{key}={value}"
            break
    else:
        items.append(f"{key}={value}")
    container(config)["Env"] = items


def ensure_path(config: dict) -> None:
    """BuildKit gives every Linux image a PATH when its base has none."""
    if "PATH" not in env_map(config):
        container(config)["Env"] = [DEFAULT_PATH, *env_list(config)]


def shell(config: dict) -> list[str]:
    return list(container(config).get("Shell") or DEFAULT_SHELL)


def workdir(config: dict) -> str:
    return container(config).get("WorkingDir") or "/"


def add_layer(config: dict, layers: list[dict], diff_id: str, size: int) -> None:
    config["rootfs"]["diff_ids"].append(diff_id)
    layers.append({"mediaType": mt.OCI_LAYER, "digest": diff_id, "size": size})


def add_history(config: dict, created: str, created_by: str, *, empty_layer: bool,
                author: str | None = None) -> None:
    entry: dict = {"created": created, "created_by": created_by}
    if author:
        entry["author"] = author
    if empty_layer:
        entry["empty_layer"] = True
    config.setdefault("history", []).append(entry)


def to_bytes(config: dict) -> bytes:
    return json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
