"""Build flags that shape every RUN step (docker's and buildah's): --add-host, --shm-size,
--ulimit, --cap-add/--cap-drop; checked here, where they enter, and carried to the
sandbox's StepSpec by the RUN handler."""

from __future__ import annotations

import ipaddress
import re

from rootless_build.errors import UsageError

# docker's --ulimit names -> resource.RLIMIT_* numbers (Linux)
ULIMITS = {"cpu": 0, "fsize": 1, "data": 2, "stack": 3, "core": 4, "rss": 5, "nproc": 6, "nofile": 7,
           "memlock": 8, "as": 9, "locks": 10, "sigpending": 11, "msgqueue": 12, "nice": 13, "rtprio": 14,
           "rttime": 15}
UNLIMITED = -1
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([kmgtp]?)i?b?", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_CAP = re.compile(r"(?:CAP_)?[A-Z_]+|ALL", re.IGNORECASE)


def parse_add_host(text: str) -> tuple[str, str]:
    """`name:ip` or `name=ip` (docker's two spellings); host-gateway is the host itself,
    as RUN steps share the host's network."""
    name, sep, address = text.partition("=") if "=" in text else text.partition(":")
    if not name or not sep or not address:
        raise UsageError(f"invalid --add-host {text!r}: expected HOST:IP")
    if address == "host-gateway":
        return name, "127.0.0.1"
    try:
        ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        raise UsageError(f"invalid --add-host {text!r}: {address} is not an IP address") from None
    return name, address.strip("[]")


def parse_size(text: str, flag: str) -> int:
    """`64m`, `1g`, `1048576` -> bytes (docker's RAMInBytes: binary units)."""
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise UsageError(f"invalid {flag} {text!r}: expected a size like 64m or 1g")
    size = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if size <= 0:
        raise UsageError(f"invalid {flag} {text!r}: must be greater than 0")
    return size


def parse_ulimit(text: str) -> tuple[str, int, int]:
    """`nofile=1024[:2048]` -> (name, soft, hard); -1 is unlimited."""
    name, sep, values = text.partition("=")
    if not sep or name not in ULIMITS:
        raise UsageError(f"invalid --ulimit {text!r}: expected NAME=SOFT[:HARD], NAME one of "
                         + ", ".join(ULIMITS))
    soft_text, _, hard_text = values.partition(":")
    try:
        soft = int(soft_text)
        hard = int(hard_text) if hard_text else soft
    except ValueError:
        raise UsageError(f"invalid --ulimit {text!r}: limits are integers (-1: unlimited)") from None
    if min(soft, hard) < UNLIMITED:
        raise UsageError(f"invalid --ulimit {text!r}: limits are >= 0 (-1: unlimited)")
    if hard != UNLIMITED and (soft == UNLIMITED or soft > hard):
        raise UsageError(f"invalid --ulimit {text!r}: the soft limit cannot exceed the hard one")
    return name, soft, hard


def parse_capability(text: str, flag: str) -> str:
    """`NET_RAW`, `cap_net_raw` or ALL -> `NET_RAW` / `ALL` (the sandbox knows the names)."""
    if not _CAP.fullmatch(text.strip()):
        raise UsageError(f"invalid {flag} {text!r}: expected a capability name")
    return text.strip().upper().removeprefix("CAP_")
