"""`# check=skip=RULE,...;error=true;experimental=RULE,...`: which rules run, and whether
a warning fails the build. Parsed as BuildKit's linter.ParseLintOptions does; a
`# check=` comment right above an instruction applies to that instruction only."""

from __future__ import annotations

from rootless_build.record import Record

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})  # Go's strconv.ParseBool
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


class CheckConfig(Record, frozen=True):
    skip: frozenset[str] = frozenset()
    skip_all: bool = False
    experimental: frozenset[str] = frozenset()
    experimental_all: bool = False
    error: bool = False

    def merged(self, other: CheckConfig) -> CheckConfig:
        """This config with `other` added (skips and experimental rules add up; error sticks)."""
        return CheckConfig(self.skip | other.skip, self.skip_all or other.skip_all,
                           self.experimental | other.experimental, self.experimental_all or other.experimental_all,
                           self.error or other.error)

    def runs(self, name: str, experimental: bool) -> bool:
        if experimental:
            return self.experimental_all or name in self.experimental
        return not self.skip_all and name not in self.skip


class CheckConfigError(ValueError):
    """A malformed check option; the linter turns it into a DockerfileError with its place."""


def _names(value: str) -> tuple[bool, frozenset[str]]:
    value = value.strip()
    if value == "all":
        return True, frozenset()
    return False, frozenset(name.strip() for name in value.split(","))


def parse_check(text: str) -> CheckConfig:
    """`skip=A,B;error=true`; raises CheckConfigError (the caller adds where it came from)."""
    text = text.strip()
    if not text:
        return CheckConfig()
    fields: dict = {}
    for part in text.split(";", 2):
        key, has_value, value = part.partition("=")
        if not has_value:
            raise CheckConfigError(f"invalid check option {part!r}")
        key = key.strip()
        if key == "skip":
            fields["skip_all"], fields["skip"] = _names(value)
        elif key == "experimental":
            fields["experimental_all"], fields["experimental"] = _names(value)
        elif key == "error":
            value = value.strip()
            if value not in _TRUE and value not in _FALSE:
                raise CheckConfigError(f"failed to parse check option {part!r}: invalid syntax")
            fields["error"] = value in _TRUE
        else:
            raise CheckConfigError(f"invalid check option {key!r}")
    return CheckConfig(**fields)
