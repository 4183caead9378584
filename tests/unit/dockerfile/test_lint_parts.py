"""Lint internals: the `# check=` option syntax (BuildKit's ParseLintOptions), which rules a
config runs, comments attached to instructions, per-instruction `# check=`, error=true's
message, and the did-you-mean search."""

from __future__ import annotations

import pytest

from rootless_build.dockerfile.parser import parse_text
from rootless_build.errors import DockerfileError
from rootless_build.lint import CheckConfig, lint, parse_check
from rootless_build.lint.config import CheckConfigError
from rootless_build.lint.source import comments_above
from rootless_build.lint.suggest import closest


@pytest.mark.parametrize(("text", "expected"), [
    ("", CheckConfig()),
    ("skip=all", CheckConfig(skip_all=True)),
    ("skip=A, B ;error=true", CheckConfig(skip=frozenset({"A", "B"}), error=True)),
    ("error=1;experimental=all", CheckConfig(error=True, experimental_all=True)),
    ("experimental=InvalidDefinitionDescription",
     CheckConfig(experimental=frozenset({"InvalidDefinitionDescription"}))),
])
def test_check_options(text, expected):
    assert parse_check(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("skip", "invalid check option 'skip'"),
    ("error=maybe", "failed to parse check option 'error=maybe': invalid syntax"),
    ("colour=red", "invalid check option 'colour'"),
])
def test_bad_check_options(text, message):
    with pytest.raises(CheckConfigError, match=message):
        parse_check(text)


def test_experimental_rules_run_only_when_named():
    config = parse_check("skip=all;experimental=X")
    assert config.runs("X", experimental=True)
    assert not config.runs("Y", experimental=True)
    assert not config.runs("StageNameCasing", experimental=False)


def test_comments_attach_to_the_next_instruction_until_a_blank_line_or_empty_comment():
    text = "# check=error=true\n# one\nFROM scratch\n# two\n\nARG a\n# three\n#\n# four\nARG b\n"
    parsed = parse_text(text)
    above = comments_above(text, parsed.nodes, len(parsed.directives) + 1)
    assert above == {3: ["one"], 6: [], 10: ["four"]}


def test_per_instruction_check_comment_is_local():
    text = "FROM scratch\n# check=skip=MaintainerDeprecated\nMAINTAINER a\nMAINTAINER b\n"
    assert [(w.rule, w.line) for w in lint(text).warnings] == [("MaintainerDeprecated", 4)]


def test_error_true_names_the_rules_once():
    result = lint("# check=error=true\nFROM scratch as a\nFROM scratch as b\n")
    assert result.failure() == "lint violation found for rules: FromAsCasing"
    assert lint("FROM scratch as a\n").failure() is None


def test_a_bad_directive_is_a_dockerfile_error_at_line_1():
    with pytest.raises(DockerfileError, match=r"^Dockerfile:1: failed to parse check options: invalid check"):
        lint("# check=nonsense\nFROM scratch\n")


def test_override_replaces_the_directive():
    assert lint("# check=error=true\nFROM scratch as a\n", override="skip=all").warnings == ()


def test_closest_name():
    assert closest("DIR_ASSET", ["DIR_BINARIES", "DIR_ASSETS", "DIR_CONFIG"]) == "DIR_ASSETS"
    assert closest("PAHT", ["HOME", "PATH"]) == "PATH"
    assert closest("foo", ["PATH"]) == ""
    assert closest("PATH", ["PATH", "PAT"]) == ""
