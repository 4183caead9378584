"""'did you mean ...?': the closest name within edit distance 2, as BuildKit's util/suggest."""

from __future__ import annotations

from collections.abc import Iterable


def _distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def closest(name: str, options: Iterable[str]) -> str:
    """The option nearest to `name` (distance < 3, first of the nearest wins); "" if none
    or if `name` is itself an option."""
    match, best = "", 3
    for option in options:
        if option == name:
            return ""
        distance = _distance(name, option)
        if distance < best:
            match, best = option, distance
    return match
