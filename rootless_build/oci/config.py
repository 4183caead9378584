"""Image configs as plain JSON dicts (unknown fields of a base survive), and the rules that
turn a metadata instruction into a config edit: one place for the build's handlers and for
`commit`/`import --change`.

`apply_instruction` and the `with_*` edits are pure: they return a new inner config (the
"config" object: Env, Cmd, WorkingDir...) and leave the one given alone. The bookkeeping
helpers below them (`set_env`, `add_layer`, `add_history`) edit a config being built.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from rootless_build.oci import mediatypes as mt

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHELL = ["/bin/sh", "-c"]


def scratch_config(os_name: str, arch: str, variant: str) -> dict[str, Any]:
    # BuildKit starts FROM scratch with WorkingDir "/"
    config = {"architecture": arch, "os": os_name, "config": {"WorkingDir": "/"},
              "rootfs": {"type": "layers", "diff_ids": []}, "history": []}
    if variant:
        config["variant"] = variant
    return config


def from_image(image: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(config dict, manifest layer descriptors) of a stored image, as independent copies."""
    config = json.loads(image.config_bytes)
    manifest = json.loads(image.manifest_bytes)
    config.setdefault("rootfs", {"type": "layers", "diff_ids": []})
    config["rootfs"].setdefault("diff_ids", [])
    config.setdefault("history", [])
    if not isinstance(config.get("config"), dict):
        config["config"] = {}
    return config, [dict(layer) for layer in manifest.get("layers", [])]


def clone(config: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(config)


def container(config: dict[str, Any]) -> dict[str, Any]:
    """The `config` object inside the image config (Env, Cmd, ...), created if absent."""
    inner = config.get("config")
    if not isinstance(inner, dict):
        inner = config["config"] = {}
    return inner


def clean_path(path: str) -> str:
    """Go's path.Clean: collapse `//`, `.` and `..`; '' becomes '.'; one leading '/' kept."""
    if not path:
        return "."
    rooted = path.startswith("/")
    out: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(part)
    text = "/".join(out)
    if rooted:
        return "/" + text
    return text or "."


# --- pure edits of the inner config -----------------------------------------------------

Inner = Mapping[str, Any]


def _with(inner: Inner, **changes: Any) -> dict[str, Any]:
    new = dict(inner)
    new.update(changes)
    return new


def with_env(inner: Inner, pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Each variable replaced where it stands, or appended."""
    items = list(inner.get("Env") or [])
    positions = {item.partition("=")[0]: index for index, item in enumerate(items)}
    for key, value in pairs:
        if key in positions:
            items[positions[key]] = f"{key}={value}"
        else:
            positions[key] = len(items)
            items.append(f"{key}={value}")
    return _with(inner, Env=items)


def with_labels(inner: Inner, pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    return _with(inner, Labels={**(inner.get("Labels") or {}), **dict(pairs)})


def with_workdir(inner: Inner, path: str) -> dict[str, Any]:
    """A relative WORKDIR is joined to the current one; both are cleaned, as Docker does."""
    if not path.startswith("/"):
        path = (inner.get("WorkingDir") or "/").rstrip("/") + "/" + path
    return _with(inner, WorkingDir=clean_path(path))


def with_exposed_ports(inner: Inner, keys: Iterable[str]) -> dict[str, Any]:
    return _with(inner, ExposedPorts={**(inner.get("ExposedPorts") or {}), **{key: {} for key in keys}})


def with_volumes(inner: Inner, paths: Iterable[str]) -> dict[str, Any]:
    return _with(inner, Volumes={**(inner.get("Volumes") or {}), **{path: {} for path in paths}})


def with_entrypoint(inner: Inner, argv: list[str], *, keep_cmd: bool) -> dict[str, Any]:
    """docker drops the inherited CMD when ENTRYPOINT changes (not one set in this stage)."""
    new = _with(inner, Entrypoint=argv)
    if not keep_cmd:
        new.pop("Cmd", None)
    return new


def with_onbuild(inner: Inner, expression: str) -> dict[str, Any]:
    return _with(inner, OnBuild=[*(inner.get("OnBuild") or []), expression])


def command(inner: Inner, args: Iterable[str], shell_form: bool) -> list[str]:
    """CMD/ENTRYPOINT's argv: the shell form runs under the config's SHELL."""
    return [*(inner.get("Shell") or DEFAULT_SHELL), *args] if shell_form else list(args)


def healthcheck(instr: Any) -> dict[str, Any]:
    health: dict[str, Any] = {"Test": list(instr.test)}
    for key, value in (("Interval", instr.interval), ("Timeout", instr.timeout),
                       ("StartPeriod", instr.start_period), ("StartInterval", instr.start_interval),
                       ("Retries", instr.retries)):
        if value:
            health[key] = value
    return health


def apply_instruction(inner: Inner, instr: Any, *, cmd_set: bool = False) -> dict[str, Any]:
    """The inner config after one expanded metadata instruction (a dockerfile instruction
    value: ENV, LABEL, WORKDIR, USER, EXPOSE, VOLUME, STOPSIGNAL, CMD, ENTRYPOINT, SHELL,
    HEALTHCHECK, ONBUILD). `cmd_set`: a CMD came earlier in the same stage, so an
    ENTRYPOINT keeps it. Other instructions leave the config as it is."""
    kw = instr.keyword
    if kw == "ENV":
        return with_env(inner, ((pair.key, pair.value) for pair in instr.pairs))
    if kw == "LABEL":
        return with_labels(inner, ((pair.key, pair.value) for pair in instr.pairs))
    if kw == "WORKDIR":
        return with_workdir(inner, instr.path)
    if kw == "USER":
        return _with(inner, User=instr.user)
    if kw == "EXPOSE":
        from rootless_build.dockerfile.ports import exposed_ports

        return with_exposed_ports(inner, exposed_ports(instr.ports))
    if kw == "VOLUME":
        return with_volumes(inner, instr.paths)
    if kw == "STOPSIGNAL":
        return _with(inner, StopSignal=instr.signal)
    if kw == "CMD":
        return _with(inner, Cmd=command(inner, instr.args, instr.shell_form))
    if kw == "ENTRYPOINT":
        return with_entrypoint(inner, command(inner, instr.args, instr.shell_form), keep_cmd=cmd_set)
    if kw == "SHELL":
        return _with(inner, Shell=list(instr.args))
    if kw == "HEALTHCHECK":
        return _with(inner, Healthcheck=healthcheck(instr))
    if kw == "ONBUILD":
        return with_onbuild(inner, instr.expression)
    return dict(inner)


# --- reading and building a config ------------------------------------------------------


def env_list(config: dict[str, Any]) -> list[str]:
    return list(container(config).get("Env") or [])


def env_map(config: dict[str, Any]) -> dict[str, str]:
    out = {}
    for item in env_list(config):
        key, _, value = item.partition("=")
        out[key] = value
    return out


def set_env(config: dict[str, Any], key: str, value: str) -> None:
    """Replace a variable in place (keeping its position), or append it."""
    config["config"] = with_env(container(config), [(key, value)])


def ensure_path(config: dict[str, Any]) -> None:
    """BuildKit gives every Linux image a PATH when its base has none."""
    if "PATH" not in env_map(config):
        container(config)["Env"] = [DEFAULT_PATH, *env_list(config)]


def shell(config: dict[str, Any]) -> list[str]:
    return list(container(config).get("Shell") or DEFAULT_SHELL)


def workdir(config: dict[str, Any]) -> str:
    return container(config).get("WorkingDir") or "/"


def add_layer(config: dict[str, Any], layers: list[dict[str, Any]], diff_id: str, size: int) -> None:
    config["rootfs"]["diff_ids"].append(diff_id)
    layers.append({"mediaType": mt.OCI_LAYER, "digest": diff_id, "size": size})


def history_entry(created: str, created_by: str, *, empty_layer: bool = False, author: str | None = None,
                  comment: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"created": created, "created_by": created_by}
    if author:
        entry["author"] = author
    if comment:
        entry["comment"] = comment
    if empty_layer:
        entry["empty_layer"] = True
    return entry


def add_history(config: dict[str, Any], created: str, created_by: str, *, empty_layer: bool,
                author: str | None = None) -> None:
    config.setdefault("history", []).append(history_entry(created, created_by, empty_layer=empty_layer,
                                                          author=author))


def rfc3339(ns: int) -> str:
    """RFC 3339 in UTC with nanoseconds, as Go writes it (trailing zeros dropped)."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{nanos:09d}".rstrip("0")
    return f"{base}.{frac}Z" if frac else f"{base}Z"


def to_bytes(config: dict[str, Any]) -> bytes:
    return json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
