"""`build --check` (lint only, BuildKit's `docker build --check`) and `build --list-rules`:
printing lint warnings as text or as BuildKit's JSON lint result."""

from __future__ import annotations

import json
import sys

import click

from rootless_build.errors import DockerfileError


def list_rules() -> None:
    from rootless_build.lint import RULES

    for rule in RULES.values():
        tags = [t for t, on in (("experimental", rule.experimental), (rule.origin, rule.origin != "buildkit")) if on]
        suffix = f" ({', '.join(tags)})" if tags else ""
        click.echo(f"{rule.name}{suffix}\n    {rule.description}" + (f"\n    {rule.url}" if rule.url else ""))


def warning_lines(result, filename: str) -> list[str]:
    return [warning.describe(filename) for warning in result.warnings]


def as_json(result, filename: str) -> str:
    """BuildKit's lint result (subrequests/lint LintResults): warnings with rule, description,
    url, detail and location; the source; the error if the Dockerfile does not parse."""
    warnings = [{
        "ruleName": w.rule, "description": w.info.description, "url": w.info.url or None, "detail": w.message,
        "location": {"sourceIndex": 0, "ranges": [{"start": {"line": w.line}, "end": {"line": w.end_line}}]},
    } for w in result.warnings]
    out: dict = {"warnings": [{k: v for k, v in w.items() if v is not None} for w in warnings],
                 "sources": [{"filename": filename, "language": "Dockerfile"}]}
    failure = result.failure()
    error = result.error
    if error is not None or failure:
        line = error.line if error is not None else result.warnings[0].line
        message = error.reason if error is not None else failure
        out["buildError"] = {"message": message,
                             "location": {"sourceIndex": 0, "ranges": [{"start": {"line": line or 0}}]}}
    return json.dumps(out, indent=2)


def run_check(store, options, fmt: str) -> int:
    """Lint only; exit status 1 when there is a warning or an error (as buildx --check)."""
    from rootless_build.builder.dockerfilesource import read_dockerfile
    from rootless_build.builder.lint import run_lint

    text, filename, path = read_dockerfile(options)
    result = run_lint(store, options, text, filename, path)
    if fmt == "json":
        click.echo(as_json(result, filename))
        return 1 if result.warnings or result.error else 0
    for line in warning_lines(result, filename):
        click.echo(line)
    if result.error is not None:
        raise result.error
    count = len(result.warnings)
    summary = "no warnings found" if not count else f"{count} warning{'s' if count > 1 else ''} found"
    print(f"Check complete, {summary}.", file=sys.stderr)
    failure = result.failure()
    if failure:
        raise DockerfileError(failure, filename, result.warnings[0].line)
    return 1 if count else 0
