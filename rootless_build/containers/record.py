"""A container's record: what `run` decided (fixed for its life) and its current state.

$ROOT/containers/<id>/container.json holds the first, written durably (fsync) when the
container is created; `id`, `name` and `manifest_digest` are read by the store (GC
roots, rmi's in-use check): keep those three at its top level. state.json beside it is
rewritten at every start and exit, atomically but without fsync: it is volatile by
nature (a crash or reboot makes it stale, and stale state is detected and settled).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime

CREATED = "created"
RUNNING = "running"
EXITED = "exited"
RESTARTING = "restarting"   # between two runs under a restart policy

# docker's exit statuses for failures before the command runs
EXIT_OWN_ERROR = 125
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127
EXIT_UNKNOWN = 255        # the monitor died and nobody saw how the container ended


@dataclass
class Mount:
    """-v, --mount, --tmpfs and the image's VOLUMEs. bind: source is a host path; volume:
    source is the volume's data dir, name its name; tmpfs: options are docker's
    (size=, mode=, noexec, ...)."""

    source: str
    destination: str
    readonly: bool = False
    type: str = "bind"              # bind, volume, tmpfs
    name: str = ""                  # a volume's name
    anonymous: bool = False         # a volume made for this container (rm -v, run --rm remove it)
    options: list[str] = field(default_factory=list)
    propagation: str = ""           # bind-propagation (bind mounts): rprivate unless said
    mode: str = ""                  # docker's Mode in inspect: -v's options; "z" for a named volume


@dataclass
class Device:
    """--device: a host device node bound in (rootless: no mknod)."""

    path_on_host: str
    path_in_container: str
    permissions: str = "rwm"


@dataclass
class PortBinding:
    """-p/-P: a host port (chosen when the container was created) to a container port."""

    host_ip: str            # "": every address (0.0.0.0)
    host_port: int
    container_port: int
    protocol: str = "tcp"


@dataclass
class RunConfig:
    """The process and its surroundings, resolved from the image config and `run`'s flags."""

    argv: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    working_dir: str = "/"
    user: str = ""
    hostname: str = ""
    tty: bool = False
    open_stdin: bool = False
    stdin_once: bool = False
    network: str = "host"           # host, none, slirp4netns[:options]
    ports: list[PortBinding] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)
    extra_hosts: list[str] = field(default_factory=list)   # --add-host NAME:IP
    restart_policy: str = "no"      # no, on-failure, always, unless-stopped (the monitor's)
    restart_max: int = 0            # on-failure:N (0: no limit)
    mounts: list[Mount] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)
    read_only: bool = False         # --read-only: the root file system mounted read-only
    stop_signal: str = "SIGTERM"
    stop_timeout: int = 10
    auto_remove: bool = False
    entrypoint: list[str] = field(default_factory=list)   # as shown by ps/inspect
    cmd: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)      # the image's, then --label
    detach: bool = False                                        # created to run in the background
    detach_keys: str = ""                                       # docker's --detach-keys, "" = ctrl-p,ctrl-q
    cidfile: str = ""
    # hardening (containers/security.py): docker's defaults unless these say otherwise
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    privileged: bool = False
    seccomp: str = ""               # "" docker's profile, "unconfined", or a profile's JSON text
    no_new_privileges: str = ""     # "true"/"false" when asked; "": on unless --privileged
    init: bool = False              # catatonit as pid 1, the command its child
    console_size: list[int] = field(default_factory=list)   # [rows, cols] of run -t's terminal


@dataclass
class State:
    status: str = CREATED
    pid: int = 0                # host pid of the container's init (pid 1 of its pid namespace)
    pid_start: int = 0          # its start time (/proc/PID/stat): a reused pid is not ours
    monitor_pid: int = 0
    monitor_start: int = 0
    boot_id: str = ""           # pids and start times only mean something within one boot
    exit_code: int | None = None
    started_at: str = ""
    finished_at: str = ""
    error: str = ""
    restart_count: int = 0      # restarts by the restart policy since the last `start`
    stopped: bool = False       # stopped by stop/kill/rm: no restart policy applies


@dataclass
class Container:
    id: str
    name: str
    image: str                  # as the user named it
    image_id: str               # config digest
    manifest_digest: str
    created: str
    driver: str = ""
    config: RunConfig = field(default_factory=RunConfig)
    state: State = field(default_factory=State)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    def to_json(self) -> bytes:
        """The durable part (container.json): everything but the state."""
        data = asdict(self)
        del data["state"]
        return json.dumps(data, indent=1, sort_keys=True).encode() + b"\n"

    def state_json(self) -> bytes:
        return json.dumps(asdict(self.state), sort_keys=True).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes, state: bytes | None = None) -> Container:
        raw = json.loads(data)
        config = _known(RunConfig, raw.get("config") or {})
        config["mounts"] = [Mount(**_known(Mount, m)) for m in config.get("mounts", [])]
        config["devices"] = [Device(**_known(Device, d)) for d in config.get("devices", [])]
        config["ports"] = [PortBinding(**_known(PortBinding, p)) for p in config.get("ports", [])]
        state_raw = raw.get("state") or {}
        if state:
            try:
                state_raw = json.loads(state)
            except ValueError:      # lost in a crash: the record says what it can
                state_raw = {}
        return cls(**{**_known(cls, raw), "config": RunConfig(**config),
                      "state": State(**_known(State, state_raw))})


def _known(cls, raw: dict) -> dict:
    """Only the fields this version knows: a record written by a newer one still loads."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in raw.items() if k in names}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
