"""A JSON-ready view of parsed Dockerfiles (golden tests, debug dumps)."""

from __future__ import annotations

from typing import Any

import msgspec


def _default(field: msgspec.structs.FieldInfo) -> Any:
    if field.default is not msgspec.NODEFAULT:
        return field.default
    if field.default_factory is not msgspec.NODEFAULT:
        return field.default_factory()
    return msgspec.NODEFAULT


def to_json(value: Any, *, omit_defaults: bool = False) -> Any:
    """Structs become dicts (instructions get a leading "kind": "RUN"), tuples lists.

    With omit_defaults, fields holding their default value are left out (shorter dumps
    that still show everything set).
    """
    if isinstance(value, msgspec.Struct):
        out: dict[str, Any] = {}
        keyword = getattr(type(value), "keyword", None)
        if isinstance(keyword, str) and keyword:
            out["kind"] = keyword
        for field in msgspec.structs.fields(value):
            item = getattr(value, field.name)
            if omit_defaults and item == _default(field):
                continue
            out[field.name.rstrip("_")] = to_json(item, omit_defaults=omit_defaults)
        return out
    if isinstance(value, (list, tuple)):
        return [to_json(item, omit_defaults=omit_defaults) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json(item, omit_defaults=omit_defaults) for key, item in value.items()}
    return value
