"""What `ps` shows of a container: docker's table fields and podman's JSON."""

from __future__ import annotations

import json
from datetime import datetime, timezone

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
    now = now or datetime.now(timezone.utc)
    return {
        "ID": container.id if no_trunc else container.short_id,
        "Image": container.image,
        "Command": command_text(container, no_trunc),
        "CreatedAt": container.created,
        "RunningFor": created_text(container, now),
        "Ports": "",
        "Status": status_text(container, now),
        "State": container.state.status,
        "Names": container.name,
    }


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
        "Labels": None,
        "AutoRemove": container.config.auto_remove,
    }
