"""The text layer: lines, continuations, comments, directives, flags, words, heredoc words."""

from __future__ import annotations

import pytest

from rootless_build.dockerfile.heredoc import parse_heredoc_word
from rootless_build.dockerfile.parser import parse_text
from rootless_build.dockerfile.words import (
    WordsError,
    extract_flags,
    parse_json_array,
    parse_words,
    split_command,
)
from rootless_build.errors import DockerfileError


def nodes(text: str):
    return parse_text(text).nodes


def test_line_ranges_cover_continuations_and_heredocs() -> None:
    found = nodes("FROM a\n\nRUN x \\\n  y\nRUN <<E\nbody\nE\nCMD z")
    assert [(n.name, n.line, n.end_line) for n in found] == [
        ("from", 1, 1),
        ("run", 3, 4),
        ("run", 5, 7),
        ("cmd", 8, 8),
    ]


def test_continuation_at_end_of_file_ends_the_instruction() -> None:
    (node,) = nodes("RUN a \\")
    assert node.original == "RUN a"


def test_comment_ending_in_escape_does_not_continue() -> None:
    assert [n.original for n in nodes("# comment \\\nRUN a")] == ["RUN a"]


def test_directive_line_numbers_in_errors() -> None:
    with pytest.raises(DockerfileError) as info:
        parse_text("# syntax=x\n# syntax=y\nFROM a\n", "df")
    assert str(info.value) == "df:2: only one syntax parser directive can be used"


def test_directives_are_case_insensitive_and_allow_blanks() -> None:
    parsed = parse_text("#  ESCAPE  =  `  \nFROM a\n")
    assert parsed.directives == {"escape": "`"}
    assert parsed.escape == "`"


def test_heredoc_only_for_run_copy_add_shell_form() -> None:
    assert nodes("ENV A <<EOF\nFROM x")[1].name == "from"
    assert nodes('RUN ["cat", "<<EOF"]\nFROM x')[1].name == "from"
    assert nodes("RUN cat <<EOF\nFROM x\nEOF")[0].heredocs[0].content == "FROM x\n"


def test_heredoc_word_inside_quotes_is_not_a_heredoc() -> None:
    (node,) = nodes("RUN echo '<<EOF'")
    assert node.heredocs == ()


def test_warnings_for_empty_continuation_lines() -> None:
    parsed = parse_text("FROM a\nRUN a \\\n\n  b\n", "df")
    assert parsed.warnings == ("df:2: empty continuation line found in: RUN a   b",)


@pytest.mark.parametrize(
    ("line", "keyword", "flags", "rest"),
    [
        ("COPY --from=a --link x y", "COPY", ("--from=a", "--link"), "x y"),
        ("copy   --chown='a b'  x", "copy", ("--chown=a b",), "x"),
        ('RUN --mount="type=bind,source=a b" ls', "RUN", ("--mount=type=bind,source=a b",), "ls"),
        ("RUN -- --x", "RUN", (), "--x"),
        ("RUN --a=\\\"q echo", "RUN", ('--a="q',), "echo"),
        ("RUN -x --y", "RUN", (), "-x --y"),
        ("HEALTHCHECK --retries=3", "HEALTHCHECK", ("--retries=3",), ""),
        ("CMD", "CMD", (), ""),
        ("  WORKDIR   /a b  ", "WORKDIR", (), "/a b"),
    ],
)
def test_split_command(line: str, keyword: str, flags: tuple[str, ...], rest: str) -> None:
    assert split_command(line) == (keyword, flags, rest)


def test_extract_flags_keeps_empty_quoted_values() -> None:
    assert extract_flags('--a="" rest') == ("rest", ["--a="])


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('A="x y" B=z', ['A="x y"', "B=z"]),
        ("A=a\\ b C", ["A=a\\ b", "C"]),
        ("A='it''s' B", ["A='it''s'", "B"]),
        ('A="say \\"hi\\""', ['A="say \\"hi\\""']),
        ("A='a\\' B", ["A='a\\'", "B"]),  # no escapes inside single quotes
        ('""', ['""']),
        ("trailing\\", ["trailing"]),
    ],
)
def test_parse_words_keeps_quotes_and_escapes(text: str, words: list[str]) -> None:
    assert parse_words(text, "\\") == words


@pytest.mark.parametrize(
    ("text", "result"),
    [
        ('["a", "b"]', ["a", "b"]),
        ('  [ "a" ]  ', ["a"]),
        ("[]", []),
        ("[a]", None),
        ('["a"] extra', None),
        ("echo [x]", None),
        ('{"a": 1}', None),
        ("[NaN]", None),
    ],
)
def test_parse_json_array(text: str, result: list[str] | None) -> None:
    assert parse_json_array(text) == result


@pytest.mark.parametrize("text", ['["a", 1]', "[null]", '[["a"]]', "[true]"])
def test_json_array_of_non_strings_is_an_error(text: str) -> None:
    with pytest.raises(WordsError):
        parse_json_array(text)


@pytest.mark.parametrize(
    ("word", "name", "expand", "strip_tabs", "fd"),
    [
        ("<<EOF", "EOF", True, False, 0),
        ("<<-EOF", "EOF", True, True, 0),
        ('<<"EOF"', "EOF", False, False, 0),
        ("<<'EOF'", "EOF", False, False, 0),
        ('<<E"O"F', "EOF", False, False, 0),
        ("<<-'EOF'", "EOF", False, True, 0),
        ("3<<EOF", "EOF", True, False, 3),
    ],
)
def test_heredoc_words(word: str, name: str, expand: bool, strip_tabs: bool, fd: int) -> None:
    heredoc = parse_heredoc_word(word)
    assert heredoc is not None
    assert (heredoc.name, heredoc.expand, heredoc.strip_tabs, heredoc.fd) == (name, expand, strip_tabs, fd)


@pytest.mark.parametrize("word", ["<<", "a<<EOF", "<<EOF<<X", "<<'two words'x y", "echo"])
def test_not_heredoc_words(word: str) -> None:
    assert parse_heredoc_word(word) is None
