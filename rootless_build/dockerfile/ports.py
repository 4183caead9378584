"""EXPOSE port specs: `80`, `80/udp`, `8000-8010/tcp` -> image config keys like "80/tcp"."""

from __future__ import annotations

import re

from rootless_build.errors import RootlessBuildError

PROTOCOLS = ("tcp", "udp", "sctp")
_PLAIN = re.compile(r"[\w/.-]+")  # nothing to expand or unquote: can be checked while parsing


class PortError(RootlessBuildError):
    pass


def _port(text: str, spec: str) -> int:
    if not re.fullmatch(r"[0-9]+", text) or int(text) > 65535:
        raise PortError(f"invalid containerPort: {spec}")
    return int(text)


def parse_port_spec(spec: str) -> list[str]:
    """The config keys one spec exposes ("8000-8001" -> ["8000/tcp", "8001/tcp"])."""
    ports, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in PROTOCOLS:
        raise PortError(f"invalid proto: {proto}")
    first, dash, last = ports.partition("-")
    start = _port(first, spec)
    end = _port(last, spec) if dash else start
    if end < start:
        raise PortError(f"invalid range specified for containerPort: {spec}")
    return [f"{port}/{proto}" for port in range(start, end + 1)]


def exposed_ports(specs: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """All keys for the (already expanded) specs of an EXPOSE, in order, without repeats."""
    keys: dict[str, None] = {}
    for spec in specs:
        for key in parse_port_spec(spec):
            keys[key] = None
    return tuple(keys)


def check_literal_port(spec: str) -> None:
    """Check a spec at parse time when it holds no variable or quote (else after expansion)."""
    if _PLAIN.fullmatch(spec):
        parse_port_spec(spec)
