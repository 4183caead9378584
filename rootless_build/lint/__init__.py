"""Dockerfile lint: BuildKit's rules (names, messages, line numbers as `docker build --check`)
and two of ours (rules.py lists them all). Pure: what lint needs from outside the text (the
.dockerignore, base image configs, build args) comes in as LintFacts.

    result = lint(text, "Dockerfile", LintFacts(build_args=...))
    for warning in result.warnings:
        print(warning.describe("Dockerfile"))    # Dockerfile:3: JSONArgsRecommended: ...
    if result.failure(): ...                     # `# check=error=true` and a rule fired
"""

from rootless_build.lint.config import CheckConfig, parse_check
from rootless_build.lint.facts import BaseImage, LintFacts
from rootless_build.lint.linter import LintResult, lint
from rootless_build.lint.report import LintWarning
from rootless_build.lint.rules import RULES, Rule

__all__ = ["RULES", "BaseImage", "CheckConfig", "LintFacts", "LintResult", "LintWarning", "Rule", "lint",
           "parse_check"]
