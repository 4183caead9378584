"""Warnings and the reporter the checks call: it applies the `# check=` configuration."""

from __future__ import annotations

from rootless_build.lint.config import (
    CheckConfig,
    CheckConfigError,
    parse_check,
)
from rootless_build.lint.rules import RULES, Rule
from rootless_build.record import Record


class LintWarning(Record, frozen=True):
    rule: str
    message: str  # BuildKit's "detail"
    line: int  # first line of the instruction it is about (BuildKit's line numbers)
    end_line: int

    def describe(self, filename: str) -> str:
        """`Dockerfile:3: JSONArgsRecommended: JSON arguments recommended for CMD ...`"""
        return f"{filename}:{self.line}: {self.rule}: {self.message}"

    @property
    def info(self) -> Rule:
        return RULES[self.rule]


class Reporter:
    """Collects warnings in the order found; `config` is the file's `# check=` directive
    (or --check's override), `local` the comments above the instruction being checked."""

    def __init__(self, config: CheckConfig, comments: dict[int, list[str]]):
        self.config = config
        self.comments = comments
        self.warnings: list[LintWarning] = []

    def config_at(self, line: int) -> CheckConfig:
        config = self.config
        for comment in self.comments.get(line, ()):
            key, has_value, value = comment.partition("=")
            if not has_value or key.strip().lower() != "check":
                continue
            try:  # BuildKit: a bad per-instruction `check=` is ignored; text after a blank is a remark
                return config.merged(parse_check(value.strip().split(" ", 1)[0]))
            except CheckConfigError:
                return config
        return config

    def warn(self, rule: str, message: str, line: int, end_line: int | None = None) -> None:
        info = RULES[rule]
        if not self.config_at(line).runs(rule, info.experimental):
            return
        self.warnings.append(LintWarning(rule, message, line, end_line or line))

    def sorted(self) -> list[LintWarning]:
        """In line order (BuildKit's tests sort by line, then message)."""
        return sorted(self.warnings, key=lambda w: (w.line, w.message))
