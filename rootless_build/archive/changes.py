"""`--change 'INSTRUCTION'` for import (and commit): the instructions `docker import`
accepts, applied to an image config's "config" object (a plain dict, edited in place)."""

from __future__ import annotations

from rootless_build.errors import UsageError

ALLOWED = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR")


def apply_changes(config: dict, changes: list[str]) -> None:
    from rootless_build.dockerfile.dockerfile import parse_instruction
    from rootless_build.dockerfile.expanded import expanded

    for text in changes:
        instruction = parse_instruction(text)
        if instruction.keyword not in ALLOWED:
            raise UsageError(f"--change: {instruction.keyword} is not supported here (use {', '.join(ALLOWED)})")
        env = dict(e.split("=", 1) for e in config.get("Env") or [] if "=" in e)
        _apply(config, expanded(instruction, env, filename="--change"))


def _apply(config: dict, i) -> None:
    from rootless_build.dockerfile.ports import exposed_ports

    kw = i.keyword
    if kw in ("CMD", "ENTRYPOINT"):
        args = list(i.args)
        if i.shell_form:
            args = [*(config.get("Shell") or ["/bin/sh", "-c"]), " ".join(args)]
        config["Cmd" if kw == "CMD" else "Entrypoint"] = args
        if kw == "ENTRYPOINT":
            config.pop("Cmd", None)  # docker resets CMD when ENTRYPOINT changes
    elif kw == "ENV":
        env = dict(e.split("=", 1) if "=" in e else (e, "") for e in config.get("Env") or [])
        env.update((p.key, p.value) for p in i.pairs)
        config["Env"] = [f"{k}={v}" for k, v in env.items()]
    elif kw == "LABEL":
        config["Labels"] = {**(config.get("Labels") or {}), **{p.key: p.value for p in i.pairs}}
    elif kw == "EXPOSE":
        config["ExposedPorts"] = {**(config.get("ExposedPorts") or {}), **{p: {} for p in exposed_ports(i.ports)}}
    elif kw == "VOLUME":
        config["Volumes"] = {**(config.get("Volumes") or {}), **{p: {} for p in i.paths}}
    elif kw == "WORKDIR":
        base = config.get("WorkingDir") or "/"
        config["WorkingDir"] = i.path if i.path.startswith("/") else f"{base.rstrip('/')}/{i.path}"
    elif kw == "USER":
        config["User"] = i.user
    elif kw == "STOPSIGNAL":
        config["StopSignal"] = i.signal
    elif kw == "ONBUILD":
        config["OnBuild"] = [*(config.get("OnBuild") or []), i.expression]
