"""Build arguments: global (before FROM) and per-stage scoping, as Docker resolves them.

- `--build-arg K=V` overrides a declared ARG's default; an undeclared one is unused (a
  warning), except the proxy variables, which RUN receives without a declaration.
- ARGs before the first FROM are visible only to FROM lines, until a stage re-declares
  them (`ARG NAME` with no value takes the global value).
- The platform ARGs (TARGETPLATFORM, BUILDARCH, ...) are predefined globally and in a
  stage once declared.
- ENV beats ARG of the same name when expanding.
"""

from __future__ import annotations

from collections.abc import Mapping

from rootless_build.builder.platform import PROXY_ARGS


class BuildArgs:
    """What the user passed, and which of it was consumed (for the unused warning)."""

    def __init__(self, given: Mapping[str, str], predefined: Mapping[str, str]):
        self.given = dict(given)
        self.predefined = dict(predefined)
        self.used: set[str] = set()
        self.globals: dict[str, str | None] = dict(predefined)

    def declare_global(self, name: str, default: str | None) -> None:
        self.globals[name] = self._value(name, default)

    def _value(self, name: str, default: str | None) -> str | None:
        if name in self.given:
            self.used.add(name)
            return self.given[name]
        return default

    def global_env(self) -> dict[str, str]:
        return {k: v for k, v in self.globals.items() if v is not None}

    def unused(self) -> list[str]:
        return sorted(k for k in self.given if k not in self.used and k not in PROXY_ARGS)

    def proxy_env(self) -> dict[str, str]:
        return {k: v for k, v in self.given.items() if k in PROXY_ARGS}


class StageArgs:
    """ARGs declared so far in one stage, in declaration order."""

    def __init__(self, build_args: BuildArgs):
        self._build = build_args
        self.values: dict[str, str | None] = {}

    def declare(self, name: str, default: str | None) -> str | None:
        """Declare `ARG name[=default]` (default already expanded); returns the value."""
        if name in self._build.given:
            value: str | None = self._build._value(name, default)
        elif default is not None:
            value = default
        elif name in self._build.globals:
            value = self._build.globals[name]
        else:
            value = None
        self.values.pop(name, None)
        self.values[name] = value
        return value

    def env(self) -> dict[str, str]:
        """The declared ARGs that have a value (the ones expansion and RUN see)."""
        return {k: v for k, v in self.values.items() if v is not None}

    def copy(self) -> StageArgs:
        clone = StageArgs(self._build)
        clone.values = dict(self.values)
        return clone
