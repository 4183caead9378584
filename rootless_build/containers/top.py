"""`top`: the host's `ps` output (docker passes the options on, default -ef), narrowed to
the processes of the container's pid namespace, as docker does."""

from __future__ import annotations

import os
import subprocess

from rootless_build.containers.record import Container
from rootless_build.containers.status import is_running
from rootless_build.errors import ContainerError, UsageError


def container_pids(container: Container) -> set[int]:
    """Host pids of every process in the container's pid namespace."""
    init = container.state.pid
    try:
        theirs = os.readlink(f"/proc/{init}/ns/pid")
    except OSError:
        raise ContainerError(f"container {container.name} is not running") from None
    pids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") == theirs:
                    pids.add(int(entry))
            except OSError:
                continue        # gone, or not ours to look at
    return pids


def top(container: Container, ps_args: list[str]) -> tuple[list[str], list[list[str]]]:
    """(titles, rows) of `ps ps_args` for the container's processes."""
    if not is_running(container):
        raise ContainerError(f"container {container.name} is not running")
    pids = container_pids(container)
    try:
        done = subprocess.run(["ps", *(ps_args or ["-ef"])], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise ContainerError("top needs the host's ps command (procps)") from None
    if done.returncode != 0:
        raise UsageError(f"ps: {done.stderr.strip() or 'failed'}")
    return parse_ps(done.stdout, pids)


def parse_ps(output: str, pids: set[int]) -> tuple[list[str], list[list[str]]]:
    lines = output.splitlines()
    if not lines:
        raise ContainerError("ps printed nothing")
    titles = lines[0].split()
    if "PID" not in titles:
        raise UsageError("Couldn't find PID field in ps output")
    at = titles.index("PID")
    rows = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        if len(fields) > at and fields[at].isdigit() and int(fields[at]) in pids:
            rows.append(fields)
    return titles, rows
