"""The Go-template subset `--format` takes ({{.A.B}} and {{json .A.B}}), as docker's
`images`, `inspect` and `ps` do. A template is parsed once, before any row is printed, so a
broken one fails with one line even when there is nothing to list (Go parses it first too)."""

from __future__ import annotations

import json
import re
from typing import Any

from rootless_build.errors import UsageError
from rootless_build.record import Record

_PATH = re.compile(r"^(json\s+)?(\.(?:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)?)$")

_MAP_FIELDS = {"Labels", "Volumes", "ExposedPorts"}
_LIST_FIELDS = {"Env", "Cmd", "Entrypoint", "OnBuild", "Shell", "RepoTags", "RepoDigests", "Layers"}


class Action(Record, frozen=True):
    path: str
    as_json: bool


class Template(Record, frozen=True):
    parts: tuple  # str (literal text) or Action

    def render(self, data: dict) -> str:
        return "".join(p if isinstance(p, str) else _evaluate(p, data) for p in self.parts)


def compile_template(text: str) -> Template:
    """Parse a template, or UsageError with docker's wording for a broken one."""
    text = text.replace("\\n", "\n").replace("\\t", "\t")
    parts: list[str | Action] = []
    pos = 0
    while (start := text.find("{{", pos)) != -1:
        end = text.find("}}", start + 2)
        line = text.count("\n", 0, start) + 1
        if end == -1:
            raise UsageError(f"template parsing error: template: :{line}: unclosed action")
        body = text[start + 2:end].removeprefix("-").removesuffix("-").strip()  # {{- trim markers -}}
        parsed = _PATH.match(body)
        if not parsed:
            raise UsageError(f"template parsing error: template: :{line}: unsupported action "
                             f"{text[start:end + 2]!r} (supported: {{{{.Field}}}}, {{{{.A.B}}}}, "
                             "{{json .Field}})")
        parts += [text[pos:start], Action(parsed.group(2), bool(parsed.group(1)))]
        pos = end + 2
    parts.append(text[pos:])
    return Template(tuple(p for p in parts if p != ""))


def render_template(template: str, data: dict) -> str:
    return compile_template(template).render(data)


def _evaluate(action: Action, data: dict) -> str:
    value = _lookup(data, action.path)
    if action.as_json:
        return json.dumps(value, separators=(",", ":"))
    if value is None:  # Go prints typed nils by their type
        field = action.path.rsplit(".", 1)[-1]
        return "map[]" if field in _MAP_FIELDS else "[]" if field in _LIST_FIELDS else "<no value>"
    return _go_string(value)


def _lookup(data: Any, path: str) -> Any:
    value = data
    for part in [p for p in path.split(".") if p]:
        if not isinstance(value, dict):
            raise UsageError(f"template: can't evaluate field {part} in {path}")
        key = part if part in value else next((k for k in value if k.lower() == part.lower()), None)
        if key is None:
            raise UsageError(f"template: no field {part} in {path}")
        value = value[key]
    return value


def _go_string(value: Any) -> str:
    """How Go's text/template prints a value: [a b], map[k:v], <no value>."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_go_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_string(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)
