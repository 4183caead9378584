"""Golden files: cases/<name>/Dockerfile -> expected.json, negative/<name>/Dockerfile -> error.txt.

Regenerate with `python tests/unit/dockerfile/regen.py [name...]`, then read every diff.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rootless_build.dockerfile import parse, to_json
from rootless_build.errors import DockerfileError

GOLDEN = Path(__file__).resolve().parents[3] / "testdata" / "dockerfile"
CASES = sorted(p.parent for p in (GOLDEN / "cases").glob("*/Dockerfile"))
NEGATIVE = sorted(p.parent for p in (GOLDEN / "negative").glob("*/Dockerfile"))


def read_dockerfile(case: Path) -> str:
    # bytes, so CRLF line ends reach the parser untouched
    return (case / "Dockerfile").read_bytes().decode("utf-8")


def render_case(case: Path) -> str:
    parsed = parse(read_dockerfile(case), "Dockerfile")
    return json.dumps(to_json(parsed, omit_defaults=True), indent=2, ensure_ascii=False) + "\n"


def render_error(case: Path) -> str:
    try:
        parse(read_dockerfile(case), "Dockerfile")
    except DockerfileError as e:
        return str(e) + "\n"
    raise AssertionError(f"{case.name}: parsed without error")


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 25
    assert len(NEGATIVE) >= 15


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_parses_to_expected(case: Path) -> None:
    expected = (case / "expected.json").read_text(encoding="utf-8")
    assert render_case(case) == expected


@pytest.mark.parametrize("case", NEGATIVE, ids=[c.name for c in NEGATIVE])
def test_fails_with_expected_message(case: Path) -> None:
    message = render_error(case)
    assert message.count("\n") == 1, "errors are one line"
    assert message == (case / "error.txt").read_text(encoding="utf-8")
