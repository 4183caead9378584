"""Lint in the build: `# check=` makes a build show BuildKit's warnings, `error=true` fails
it before any step runs; `build --check` lints only (text or JSON); `--list-rules`."""

from __future__ import annotations

import json

from rootless_build.lint import RULES

WARNS = "# check=skip=JSONArgsRecommended\nFROM scratch as base\nCOPY a /a\nMAINTAINER me\n"


def _context(tmp_path, text: str, name: str = "ctx"):
    ctx = tmp_path / name
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(text)
    (ctx / "a").write_text("a\n")
    return ctx


def test_directive_shows_warnings_in_the_build_output(rb, tmp_path):
    proc = rb("build", "-t", "linted", _context(tmp_path, WARNS + "CMD run\n"))
    assert proc.returncode == 0, proc.stderr
    assert "Dockerfile:2: FromAsCasing: 'as' and 'FROM' keywords' casing do not match" in proc.stderr
    assert "Dockerfile:4: MaintainerDeprecated: Maintainer instruction is deprecated" in proc.stderr
    assert "JSONArgsRecommended" not in proc.stderr  # skipped by the directive
    assert "linted " in rb("images").stdout


def test_error_true_fails_the_build_before_any_step(rb, tmp_path):
    text = "# check=error=true\nFROM scratch as base\nCOPY a /a\n"
    proc = rb("build", "-t", "strict", _context(tmp_path, text))
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.endswith("Dockerfile:2: lint violation found for rules: FromAsCasing"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert "strict" not in rb("images").stdout


def test_build_arg_overrides_the_directive(rb, tmp_path):
    text = "# check=error=true\nFROM scratch as base\nCOPY a /a\n"
    proc = rb("build", "--build-arg", "BUILDKIT_DOCKERFILE_CHECK=skip=all", "-t", "lenient",
              _context(tmp_path, text))
    assert proc.returncode == 0, proc.stderr
    assert "FromAsCasing" not in proc.stderr and "not consumed" not in proc.stderr


def test_check_lints_only(rb, tmp_path):
    proc = rb("build", "--check", "-t", "never", _context(tmp_path, WARNS))
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        "Dockerfile:2: FromAsCasing: 'as' and 'FROM' keywords' casing do not match",
        "Dockerfile:4: MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label",
    ]
    assert "Check complete, 2 warnings found." in proc.stderr
    assert "never" not in rb("images").stdout
    clean = rb("build", "--check", _context(tmp_path, "FROM scratch\nCOPY a /a\n", "clean"))
    assert (clean.returncode, clean.stdout) == (0, ""), clean.stderr


def test_check_json_is_buildkits_lint_result(rb, tmp_path):
    for args in (["--check", "--format", "json"], ["--call", "check,format=json"]):
        proc = rb("build", *args, _context(tmp_path, WARNS, "ctx" + args[0]))
        assert proc.returncode == 1, proc.stderr
        result = json.loads(proc.stdout)
        assert [w["ruleName"] for w in result["warnings"]] == ["FromAsCasing", "MaintainerDeprecated"]
        first = result["warnings"][0]
        assert first["url"] == "https://docs.docker.com/go/dockerfile/rule/from-as-casing/"
        assert first["description"] == "The 'as' keyword should match the case of the 'from' keyword"
        assert first["location"]["ranges"][0]["start"]["line"] == 2
        assert result["sources"][0]["filename"] == "Dockerfile"


def test_check_reports_the_parse_error_after_the_warnings(rb, tmp_path):
    proc = rb("build", "--check", _context(tmp_path, "FROM scratch AS BadStageName\nMAINTAINER me\nBADCMD\n"))
    assert proc.returncode != 0
    assert proc.stdout.splitlines() == [
        "Dockerfile:1: StageNameCasing: Stage name 'BadStageName' should be lowercase",
        "Dockerfile:2: MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label",
    ]
    assert "Dockerfile:3: unknown instruction: BADCMD" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_check_directive_is_one_line_error(rb, tmp_path):
    proc = rb("build", _context(tmp_path, "# check=skip=all;nonsense\nFROM scratch\n"))
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].endswith(
        "Dockerfile:1: failed to parse check options: invalid check option 'nonsense'")
    assert "Traceback" not in proc.stderr


def test_list_rules_names_every_rule(rb):
    proc = rb("build", "--list-rules")
    assert proc.returncode == 0, proc.stderr
    listed = [line for line in proc.stdout.splitlines() if not line.startswith(" ")]
    assert [line.split(" ")[0] for line in listed] == list(RULES)
    assert len(RULES) == 24  # BuildKit's 21 of the issue, its ExposeInvalidFormat, and our two
