"""docker's --filter KEY=VALUE: parsed and checked once where it enters, then asked by the
listings. Values of one key OR together, different keys AND (labels AND, as docker's)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from rootless_build.errors import UsageError


class Filters:
    def __init__(self, values: dict[str, list[str]]):
        self.values = values

    @classmethod
    def parse(cls, args: list[str] | tuple[str, ...], allowed: tuple[str, ...]) -> Filters:
        values: dict[str, list[str]] = {}
        for arg in args:
            key, eq, value = arg.partition("=")
            if not eq or not key:
                raise UsageError("bad format of filter (expected name=value)")
            if key.lower() not in allowed:
                raise UsageError(f"Invalid filter '{key}'")
            values.setdefault(key.lower(), []).append(value)
        return cls(values)

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def __bool__(self) -> bool:
        return bool(self.values)

    def get(self, key: str) -> list[str]:
        return self.values.get(key, [])

    def boolean(self, key: str) -> bool | None:
        """A true/false filter (dangling); None when not given."""
        if key not in self.values:
            return None
        answers = set()
        for value in self.values[key]:
            if value.lower() in ("true", "1"):
                answers.add(True)
            elif value.lower() in ("false", "0"):
                answers.add(False)
            else:
                raise UsageError(f"Invalid filter '{key}={value}'")
        if len(answers) > 1:
            raise UsageError(f"Invalid filter '{key}': conflicting values")
        return answers.pop()

    def labels_match(self, labels: dict[str, str] | None, key: str = "label") -> bool:
        """Every label=K or label=K=V given holds (docker's MatchKVList)."""
        labels = labels or {}
        for wanted in self.get(key):
            name, eq, value = wanted.partition("=")
            if name not in labels or (eq and labels[name] != value):
                return False
        return True

    def labels_exclude(self, labels: dict[str, str] | None) -> bool:
        """No label!=K[=V] given holds (prune's negated labels)."""
        labels = labels or {}
        for wanted in self.get("label!"):
            name, eq, value = wanted.partition("=")
            if name in labels and (not eq or labels[name] == value):
                return False
        return True


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def parse_until(text: str, now: float | None = None) -> datetime:
    """docker's `until`: a Go duration before now (10m, 1h30m), a Unix time, or an RFC 3339
    date or date-time."""
    now = time.time() if now is None else now
    if text and re.fullmatch(r"(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+", text):
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION.findall(text))
        return datetime.fromtimestamp(now - seconds, UTC)
    if re.fullmatch(r"\d+(?:\.\d+)?", text or ""):
        return datetime.fromtimestamp(float(text), UTC)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"Invalid filter 'until={text}': not a timestamp or a duration (10m, 1h30m)") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
