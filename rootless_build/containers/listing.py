"""What `ps` shows of a container: docker's table fields and podman's JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from rootless_build.containers.network import ports_text
from rootless_build.containers.record import EXITED, RUNNING, Container, parse_iso
from rootless_build.containers.status import created_text, status_text

COMMAND_WIDTH = 20


def command_text(container: Container, no_trunc: bool = False) -> str:
    """docker's COMMAND: the quoted command line, cut to 20 characters with an ellipsis."""
    text = " ".join(container.config.argv)
    if not no_trunc and len(text) > COMMAND_WIDTH:
        text = text[:COMMAND_WIDTH - 1] + "…"
    return json.dumps(text, ensure_ascii=False)


def fields(container: Container, no_trunc: bool = False, now: datetime | None = None) -> dict[str, str]:
    """The columns by their Go template names ({{.ID}}, {{.Names}}, ...)."""
    now = now or datetime.now(UTC)
    return {
        "ID": container.id if no_trunc else container.short_id,
        "Image": container.image,
        "Command": command_text(container, no_trunc),
        "CreatedAt": container.created,
        "RunningFor": created_text(container, now),
        "Ports": ", ".join(ports_text(container.config.ports)) if container.state.status == RUNNING else "",
        "Status": status_text(container, now),
        "State": container.state.status,
        "Names": container.name,
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(container.config.labels.items())),
        "Mounts": ",".join(m.name or m.source for m in container.config.mounts if m.type != "tmpfs"),
        "Networks": container.config.network,
        "Size": "N/A",
        "LocalVolumes": "0",
    }


# docker's header for each field of a `table` format
HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
           "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
           "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "LocalVolumes": "LOCAL VOLUMES",
           "Networks": "NETWORKS"}


TABLE = (("CONTAINER ID", "ID"), ("IMAGE", "Image"), ("COMMAND", "Command"), ("CREATED", "RunningFor"),
         ("STATUS", "Status"), ("PORTS", "Ports"), ("NAMES", "Names"))


def _unix(text: str) -> int:
    when = parse_iso(text)
    return int(when.timestamp()) if when else 0


def podman_json(container: Container, now: datetime | None = None) -> dict:
    s = container.state
    return {
        "Id": container.id,
        "Names": [container.name],
        "Image": container.image,
        "ImageID": container.image_id.split(":", 1)[-1],
        "Command": list(container.config.argv),
        "Created": _unix(container.created),
        "CreatedAt": created_text(container, now),
        "State": s.status,
        "Status": status_text(container, now),
        "Exited": s.status == EXITED,
        "ExitCode": s.exit_code if s.exit_code is not None else 0,
        "ExitedAt": _unix(s.finished_at),
        "StartedAt": _unix(s.started_at),
        "Pid": s.pid if s.status == RUNNING else 0,
        "Ports": None,
        "Labels": dict(container.config.labels) or None,
        "AutoRemove": container.config.auto_remove,
    }
