"""What a step needs from its surroundings, whatever isolates it (run_step's namespaces or
chrootstep's chroot): its generated /etc files, where its output goes, its last lines for an
error message, and Ctrl-C/SIGTERM turned into StepInterrupted while it runs."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rootless_build.sandbox.spec import StepInterrupted, StepSpec

TAIL_BYTES = 64 * 1024


def hosts_file(hostname: str) -> str:
    return (f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
            f"127.0.1.1\t{hostname}\n")


def write_etc(spec: StepSpec, etc: Path) -> dict[str, str]:
    etc.mkdir()
    resolv = ""
    if spec.network != "none":
        try:
            resolv = spec.resolv_conf.read_text()
        except OSError:
            resolv = ""
        resolv = resolv_conf(resolv, spec.dns, spec.network == "slirp4netns")
    hosts = hosts_file(spec.hostname) + "".join(f"{ip}\t{name}\n" for name, ip in spec.extra_hosts)
    files = {"/etc/hosts": hosts, "/etc/hostname": spec.hostname + "\n",
             "/etc/resolv.conf": resolv}
    result = {}
    for target, content in files.items():
        host = etc / os.path.basename(target)
        host.write_text(content)
        host.chmod(0o644)
        result[target] = os.fspath(host)
    return result


def resolv_conf(host: str, dns: list[str], slirp: bool) -> str:
    """--dns replaces the host's nameservers; behind slirp4netns the host's loopback ones
    cannot be reached, so its DNS forwarder (10.0.2.3) stands in for them, as podman does."""
    kept = [line for line in host.splitlines() if not line.split()[:1] == ["nameserver"]]
    servers = [line.split()[1] for line in host.splitlines()
               if line.split()[:1] == ["nameserver"] and len(line.split()) > 1]
    if dns:
        servers = list(dns)
    elif slirp:
        servers = [s for s in servers if not s.startswith("127.") and s != "::1"]
        if not servers:
            servers = ["10.0.2.3"]
    elif not any(line.split()[:1] == ["nameserver"] for line in host.splitlines()):
        return host
    return "".join(f"{line}\n" for line in kept) + "".join(f"nameserver {s}\n" for s in servers)


def default_output(chunk: bytes) -> None:
    stream = getattr(sys.stdout, "buffer", None)
    if stream is not None:
        stream.write(chunk)
        stream.flush()
    else:
        sys.stdout.write(chunk.decode(errors="replace"))
        sys.stdout.flush()


def last_lines(tail: bytes, count: int) -> list[str]:
    lines = tail.decode(errors="replace").replace("\r\n", "\n").split("\n")
    lines = [line.rsplit("\r", 1)[-1] for line in lines]
    while lines and not lines[-1].strip():
        lines.pop()
    return lines[-count:]


@contextmanager
def interruptible() -> Iterator[None]:
    """SIGINT and SIGTERM become StepInterrupted while the step runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    interrupted: list[int] = []

    def handler(signum, _frame):
        if not interrupted:         # once: a second Ctrl-C must not break the clean-up
            interrupted.append(signum)
            raise StepInterrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
