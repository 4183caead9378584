"""`run`'s flags over the image config, as docker combines them.

- argv = ENTRYPOINT + CMD; a command given on the line replaces CMD; --entrypoint
  replaces ENTRYPOINT and drops the image's CMD (an empty --entrypoint clears it).
- ENV from the image, then --env-file, then -e (later wins); `-e NAME` copies the host's
  value or leaves the name out. That is the container's Env (what commit keeps); the
  process also gets PATH (docker's default when unset), HOSTNAME, and TERM=xterm with -t.
- WORKDIR and USER from the image unless -w / -u; the hostname is the short id.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from rootless_build.containers import procs
from rootless_build.containers.record import RunConfig
from rootless_build.errors import UsageError

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class RunOptions:
    command: list[str] = field(default_factory=list)
    entrypoint: str | None = None
    env: list[str] = field(default_factory=list)
    env_files: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)       # -v
    mounts: list[str] = field(default_factory=list)        # --mount
    tmpfs: list[str] = field(default_factory=list)         # --tmpfs
    devices: list[str] = field(default_factory=list)       # --device
    read_only: bool = False                                 # --read-only
    workdir: str | None = None
    user: str | None = None
    hostname: str | None = None
    network: str = "slirp4netns"
    publish: list[str] = field(default_factory=list)       # -p
    publish_all: bool = False                               # -P
    dns: list[str] = field(default_factory=list)
    add_hosts: list[str] = field(default_factory=list)
    restart: str = "no"
    tty: bool = False
    interactive: bool = False
    detach: bool = False
    auto_remove: bool = False
    stop_timeout: int | None = None
    labels: list[str] = field(default_factory=list)
    detach_keys: str = ""
    cidfile: str = ""
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    privileged: bool = False
    security_opt: list[str] = field(default_factory=list)
    init: bool = False
    console_size: list[int] = field(default_factory=list)   # rows, cols: the pty starts so


def resolve(image_config: dict | None, opts: RunOptions, container_id: str) -> RunConfig:
    """image_config: the `config` object of the image config as JSON (Env, Cmd, ...).
    Mounts are not here: they may need volumes made (lifecycle.create, mountspec)."""
    img = image_config or {}
    entrypoint = list(img.get("Entrypoint") or [])
    cmd = list(img.get("Cmd") or [])
    if opts.entrypoint is not None:
        entrypoint = parse_entrypoint(opts.entrypoint)
        cmd = []
    if opts.command:
        cmd = list(opts.command)
    argv = entrypoint + cmd
    if not argv:
        raise UsageError("no command specified: the image has no CMD or ENTRYPOINT; give a command")
    hostname = opts.hostname or container_id[:12]
    env = merge_env(list(img.get("Env") or []), opts)
    stop_signal = img.get("StopSignal") or "SIGTERM"
    try:
        procs.parse_signal(stop_signal)
    except ValueError:
        stop_signal = "SIGTERM"
    from rootless_build.containers import mountspec, network
    network.check_network(opts.network)
    if (opts.publish or opts.publish_all) and not opts.network.startswith("slirp4netns"):
        raise UsageError(f"-p/-P need a network of the container's own (slirp4netns), not --network {opts.network}")
    restart_policy, restart_max = parse_restart(opts.restart)
    if restart_policy != "no" and opts.auto_remove:
        raise UsageError("--restart and --rm are mutually exclusive (conflicting options)")
    workdir = opts.workdir or img.get("WorkingDir") or "/"
    if not workdir.startswith("/"):
        raise UsageError(f"the working directory '{workdir}' is invalid, it needs to be an absolute path")
    config = RunConfig(
        argv=argv, env=env, working_dir=workdir,
        user=opts.user if opts.user is not None else (img.get("User") or ""),
        hostname=hostname, tty=opts.tty, open_stdin=opts.interactive,
        stdin_once=opts.interactive and not opts.detach,
        network=opts.network, ports=network.publish(opts.publish, opts.publish_all, img),
        dns=network.check_dns(opts.dns), extra_hosts=network.parse_add_hosts(opts.add_hosts),
        restart_policy=restart_policy, restart_max=restart_max,
        devices=[mountspec.parse_device(d) for d in opts.devices], read_only=opts.read_only,
        stop_signal=stop_signal,
        stop_timeout=10 if opts.stop_timeout is None else opts.stop_timeout,
        auto_remove=opts.auto_remove, entrypoint=entrypoint, cmd=cmd,
        labels={**(img.get("Labels") or {}), **parse_labels(opts.labels)},
        detach=opts.detach, detach_keys=opts.detach_keys, cidfile=opts.cidfile,
        console_size=list(opts.console_size) if opts.tty else [],
    )
    from rootless_build.containers import security
    security.apply_options(config, opts.cap_add, opts.cap_drop, opts.privileged, opts.security_opt,
                           opts.init)
    return config


def parse_restart(text: str) -> tuple[str, int]:
    """docker's --restart: no | on-failure[:N] | always | unless-stopped."""
    policy, colon, count = text.partition(":")
    if policy == "on-failure" and colon:
        if not count.isdigit():
            raise UsageError(f"--restart {text}: the maximum retry count must be a number")
        return policy, int(count)
    if policy in ("no", "on-failure", "always", "unless-stopped") and not colon:
        return policy, 0
    if policy in ("always", "unless-stopped"):
        raise UsageError(f"--restart {text}: maximum retry count cannot be used with restart policy '{policy}'")
    raise UsageError(f"--restart {text}: use no, on-failure[:N], always or unless-stopped")


def parse_labels(items: list[str]) -> dict[str, str]:
    """--label KEY=VALUE or KEY (an empty value), as docker."""
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        if not key:
            raise UsageError(f"--label {item}: a label needs a name")
        out[key] = value
    return out


def parse_entrypoint(text: str) -> list[str]:
    """docker takes one executable; a JSON array (podman's extension) gives several words."""
    if text.strip().startswith("["):
        try:
            words = json.loads(text)
        except ValueError:
            words = None
        if isinstance(words, list) and all(isinstance(w, str) for w in words):
            return words
        raise UsageError(f"--entrypoint {text}: not a JSON array of strings")
    return [text] if text else []


def merge_env(image_env: list[str], opts: RunOptions) -> list[str]:
    env: dict[str, str] = {}
    for item in image_env:
        key, _, value = item.partition("=")
        env[key] = value
    for path in opts.env_files:
        for item in read_env_file(path):
            _apply(env, item)
    for item in opts.env:
        _apply(env, item)
    return [f"{k}={v}" for k, v in env.items()]


def process_env(config: RunConfig, extra: list[str] = (), tty: bool | None = None) -> list[str]:
    """The environment a process in the container starts with (run, or exec with -e extra)."""
    env: dict[str, str] = {"PATH": DEFAULT_PATH, "HOSTNAME": config.hostname}
    if config.tty if tty is None else tty:
        env["TERM"] = "xterm"
    for item in [*config.env, *extra]:
        _apply(env, item)
    return [f"{k}={v}" for k, v in env.items()]


def _apply(env: dict[str, str], item: str) -> None:
    key, eq, value = item.partition("=")
    if not key:
        raise UsageError(f"invalid environment variable: {item}")
    if eq:
        env[key] = value
    elif key in os.environ:
        env[key] = os.environ[key]
    else:
        env.pop(key, None)


def read_env_file(path: str) -> list[str]:
    """docker's --env-file: KEY=VALUE or KEY lines; '#' comments and blank lines skipped."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise UsageError(f"--env-file {path}: {e.strerror}") from None
    out = []
    for number, line in enumerate(lines, 1):
        text = line.lstrip()
        if not text or text.startswith("#"):
            continue
        key = text.split("=", 1)[0]
        if not key or any(c.isspace() for c in key):
            raise UsageError(f"--env-file {path}:{number}: variable '{key}' contains whitespaces")
        out.append(text)
    return out
