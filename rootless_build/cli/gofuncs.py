"""The functions of --format templates (docker's and Go's builtins) and how Go prints a
value; the engine is cli/gotemplate.py."""

from __future__ import annotations

import json
import re

from rootless_build.errors import UsageError

# Go prints a nil map or slice of a typed field this way (docker's inspect documents).
MAP_FIELDS = {"Labels", "Volumes", "ExposedPorts"}
LIST_FIELDS = {"Env", "Cmd", "Entrypoint", "OnBuild", "Shell", "RepoTags", "RepoDigests", "Layers"}


class TemplateError(UsageError):
    pass


def truth(value) -> bool:
    """Go's: false, 0, nil and empty strings, lists and maps are false."""
    return bool(value) if value is not None else False


def _index(coll, *keys):
    for key in keys:
        if isinstance(coll, dict):
            coll = coll.get(key)
        elif isinstance(coll, (list, tuple, str)) and isinstance(key, int):
            if not 0 <= key < len(coll):
                raise IndexError(f"index out of range: {key}")
            coll = coll[key]
        else:
            raise TypeError(f"can't index item of type {go_type(coll)}")
    return coll


def _print(*args) -> str:
    """fmt.Sprint: spaces only between operands when neither is a string."""
    out = ""
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out += " "
        out += go_string(arg)
    return out


def _printf(fmt: str, *args) -> str:
    converted = re.sub(r"%[-+# 0-9.]*[vsqdtfg]", lambda m: m.group(0)[:-1] + (
        "r" if m.group(0)[-1] == "q" else "s" if m.group(0)[-1] in "vt" else m.group(0)[-1]), fmt)
    values = tuple(go_string(a) if not isinstance(a, (int, float)) or isinstance(a, bool) else a for a in args)
    return converted % values


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _compare(op):
    def check(a, *bs):
        if op == "eq":
            return any(a == b for b in bs)
        b = bs[0]
        return {"ne": a != b, "lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[op]
    return check


def _and(*args):
    for a in args:
        if not truth(a):
            return a
    return args[-1]


def _or(*args):
    for a in args:
        if truth(a):
            return a
    return args[-1]


FUNCS = {
    "json": _json,
    "join": lambda items, sep: sep.join(go_string(i) for i in (items or [])),
    "split": lambda text, sep: text.split(sep),
    "upper": lambda text: go_string(text).upper(),
    "lower": lambda text: go_string(text).lower(),
    "title": lambda text: re.sub(r"\b[a-z]", lambda m: m.group(0).upper(), go_string(text)),
    "truncate": lambda text, n: go_string(text)[:n],
    "pad": lambda text, before, after: " " * before + go_string(text) + " " * after,
    "index": _index,
    "len": lambda value: len(value) if value is not None else 0,
    "print": _print,
    "printf": _printf,
    "println": lambda *args: " ".join(go_string(a) for a in args) + "\n",
    "not": lambda value: not truth(value),
    "and": _and,
    "or": _or,
    **{op: _compare(op) for op in ("eq", "ne", "lt", "le", "gt", "ge")},
}
# docker prints the header row with these functions returning their argument unchanged
HEADER_PASSTHROUGH = {"json", "join", "split", "upper", "lower", "title", "truncate", "pad"}


def go_type(value) -> str:
    return {dict: "map[string]interface {}", list: "[]interface {}", str: "string", bool: "bool",
            int: "int", float: "float64"}.get(type(value), type(value).__name__)


def go_string(value, pipe: list | None = None) -> str:
    """How Go's text/template prints a value: [a b], map[k:v], <no value>."""
    if value is None:
        if pipe and len(pipe) == 1 and len(pipe[0]) == 1 and pipe[0][0][0] == "field":
            name = pipe[0][0][1].rsplit(".", 1)[-1]
            if name in MAP_FIELDS:
                return "map[]"
            if name in LIST_FIELDS:
                return "[]"
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_string(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)
