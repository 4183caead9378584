"""`run`'s network flags, checked where they enter: --network, -p/-P, --dns, --add-host.

The published ports are stored in the container's record (RunConfig.ports) with the host
port chosen for -P and `-p CTR`, so `port`, `ps` and `inspect` read them from there.
"""

from __future__ import annotations

import ipaddress
import socket

from rootless_build.containers.record import PortBinding
from rootless_build.errors import UsageError

MODES = ("host", "none", "slirp4netns", "pasta")


def check_network(text: str) -> str:
    """host | none | slirp4netns[:opts] | pasta; returned as given (options validated)."""
    mode, _, options = text.partition(":")
    if mode == "pasta":
        raise UsageError("--network pasta: not supported (Debian 12's passt is a 2023 snapshot "
                         "podman 4.3 does not drive either); use slirp4netns, the default")
    if mode not in MODES or (options and mode != "slirp4netns"):
        raise UsageError(f"--network {text}: use host, none or slirp4netns[:OPTIONS]")
    if options:
        from rootless_build.errors import SandboxError
        from rootless_build.sandbox.slirp import parse_options
        try:
            parse_options(options)
        except SandboxError as e:
            raise UsageError(str(e)) from None
    return text


def parse_publish(spec: str) -> PortBinding:
    """docker's -p: [[IP:][HOST]:]CTR[/tcp|udp] (HOST empty or absent: a free port)."""
    text, _, proto = spec.partition("/")
    proto = proto or "tcp"
    if proto not in ("tcp", "udp"):
        raise UsageError(f"-p {spec}: the protocol must be tcp or udp")
    host_ip = ""
    if text.startswith("["):                      # [::1]:8080:80
        end = text.find("]")
        host_ip, text = text[1:end], text[end + 2:]
    parts = text.split(":")
    if len(parts) == 3:
        host_ip, host, ctr = parts
    elif len(parts) == 2:
        host, ctr = parts
    elif len(parts) == 1:
        host, ctr = "", parts[0]
    else:
        raise UsageError(f"-p {spec}: expected [IP:][HOST-PORT:]CONTAINER-PORT[/PROTOCOL]")
    if host_ip:
        try:
            ipaddress.ip_address(host_ip)
        except ValueError:
            raise UsageError(f"-p {spec}: {host_ip} is not an IP address") from None
    return PortBinding(host_ip=host_ip, host_port=_port(spec, host, allow_empty=True),
                       container_port=_port(spec, ctr), protocol=proto)


def _port(spec: str, text: str, allow_empty: bool = False) -> int:
    if not text and allow_empty:
        return 0
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise UsageError(f"-p {spec}: invalid port '{text}' (1-65535)")
    return int(text)


def exposed_ports(image_config: dict) -> list[PortBinding]:
    """-P: every EXPOSEd port of the image ("80/tcp": {}), to a free host port."""
    out = []
    for key in sorted(image_config.get("ExposedPorts") or {}):
        port, _, proto = key.partition("/")
        if port.isdigit() and 0 < int(port) < 65536 and (proto or "tcp") in ("tcp", "udp"):
            out.append(PortBinding(host_ip="", host_port=0, container_port=int(port), protocol=proto or "tcp"))
    return out


def publish(specs: list[str], publish_all: bool, image_config: dict) -> list[PortBinding]:
    """The container's bindings, host ports chosen now for those left free."""
    bindings = [parse_publish(s) for s in specs]
    if publish_all:
        given = {(b.container_port, b.protocol) for b in bindings}
        bindings += [b for b in exposed_ports(image_config) if (b.container_port, b.protocol) not in given]
    seen: set[tuple[str, int, str]] = set()
    for b in bindings:
        if b.host_port == 0:
            b.host_port = free_port(b.host_ip, b.protocol)
        key = (b.host_ip, b.host_port, b.protocol)
        if key in seen:
            raise UsageError(f"host port {b.host_port}/{b.protocol} is published twice")
        seen.add(key)
    return bindings


def free_port(host_ip: str, proto: str) -> int:
    """A port the kernel gives now (podman and docker choose -P's ports the same way)."""
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
    with socket.socket(family, kind) as s:
        s.bind((host_ip or ("::" if family == socket.AF_INET6 else "0.0.0.0"), 0))
        return s.getsockname()[1]


def check_dns(servers: list[str]) -> list[str]:
    for server in servers:
        try:
            ipaddress.ip_address(server)
        except ValueError:
            raise UsageError(f"--dns {server}: not an IP address") from None
    return list(servers)


def parse_add_hosts(items: list[str]) -> list[str]:
    """docker's --add-host NAME:IP (or NAME=IP); kept as "NAME:IP"."""
    out = []
    for item in items:
        sep = "=" if "=" in item else ":"
        name, _, ip = item.partition(sep)
        ip = ip.strip("[]")
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise UsageError(f"--add-host {item}: expected NAME:IP") from None
        if not name or any(c.isspace() for c in name):
            raise UsageError(f"--add-host {item}: invalid host name")
        out.append(f"{name}:{ip}")
    return out


def port_map(bindings: list[PortBinding]) -> dict[str, list[dict[str, str]]]:
    """docker's NetworkSettings.Ports / HostConfig.PortBindings shape."""
    out: dict[str, list[dict[str, str]]] = {}
    for b in bindings:
        out.setdefault(f"{b.container_port}/{b.protocol}", []).append(
            {"HostIp": b.host_ip or "0.0.0.0", "HostPort": str(b.host_port)})
    return out


def port_lines(bindings: list[PortBinding], private: str = "") -> list[str]:
    """`docker port C [PRIVATE[/PROTO]]`: "80/tcp -> 0.0.0.0:8080" lines."""
    port, _, proto = private.partition("/")
    lines = []
    for b in bindings:
        if port and (str(b.container_port) != port or (proto and proto != b.protocol)):
            continue
        host = b.host_ip or "0.0.0.0"
        host = f"[{host}]" if ":" in host else host
        lines.append(f"{host}:{b.host_port}" if port else f"{b.container_port}/{b.protocol} -> {host}:{b.host_port}")
    return lines


def ports_text(bindings: list[PortBinding]) -> list[str]:
    """ps's PORTS column: "0.0.0.0:8080->80/tcp"."""
    return [f"{b.host_ip or '0.0.0.0'}:{b.host_port}->{b.container_port}/{b.protocol}" for b in bindings]
