"""A JSON-ready view of parsed Dockerfiles (golden tests, debug dumps)."""

from __future__ import annotations

from typing import Any

from rootless_build.record import Record, default_of, fields


def to_json(value: Any, *, omit_defaults: bool = False) -> Any:
    """Records become dicts (instructions get a leading "kind": "RUN"), tuples lists.

    With omit_defaults, fields holding their default value are left out (shorter dumps
    that still show everything set).
    """
    if isinstance(value, Record):
        out: dict[str, Any] = {}
        keyword = getattr(type(value), "keyword", None)
        if isinstance(keyword, str) and keyword:
            out["kind"] = keyword
        for name in fields(value):
            item = getattr(value, name)
            if omit_defaults and item == default_of(type(value), name):
                continue
            out[name.rstrip("_")] = to_json(item, omit_defaults=omit_defaults)
        return out
    if isinstance(value, (list, tuple)):
        return [to_json(item, omit_defaults=omit_defaults) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json(item, omit_defaults=omit_defaults) for key, item in value.items()}
    return value
