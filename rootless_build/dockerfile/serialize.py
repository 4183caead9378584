"""A JSON-ready view of parsed Dockerfiles (golden tests, debug dumps)."""

from __future__ import annotations

import dataclasses
from typing import Any


def _default(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def to_json(value: Any, *, omit_defaults: bool = False) -> Any:
    """Dataclasses become dicts (instructions get a leading "kind": "RUN"), tuples lists.

    With omit_defaults, fields holding their default value are left out (shorter dumps
    that still show everything set).
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        keyword = getattr(type(value), "keyword", None)
        if isinstance(keyword, str) and keyword:
            out["kind"] = keyword
        for field in dataclasses.fields(value):
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
