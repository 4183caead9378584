"""Variable expansion tables (BuildKit shell lexer semantics)."""

from __future__ import annotations

import pytest

from rootless_build.dockerfile import ExpansionError, expand_heredoc, expand_word, expand_words

ENV = {
    "PWD": "/home",
    "SHELL": "bash",
    "EMPTY": "",
    "SPACED": "a b  c",
    "FILE": "foo.tar.gz",
    "PATH": "/usr/bin:/bin",
    "KOREAN": "한국어",
    "STAR": "*",
}

# (word, expand_word result, expand_words result)
ROWS = [
    ("plain", "plain", ["plain"]),
    ("$PWD", "/home", ["/home"]),
    ("he$PWD/x", "he/home/x", ["he/home/x"]),
    ("${PWD}x", "/homex", ["/homex"]),
    ("$PWDx", "", []),  # the name is PWDx, which is unset
    ("$UNSET", "", []),
    ("${UNSET}", "", []),
    ("$KOREAN", "한국어", ["한국어"]),
    ("${PWD}${SHELL}", "/homebash", ["/homebash"]),
    (r"\$PWD", "$PWD", ["$PWD"]),
    (r"\\$PWD", "\\/home", ["\\/home"]),
    ("'$PWD'", "$PWD", ["$PWD"]),
    ('"$PWD"', "/home", ["/home"]),
    (r'"\$PWD"', "$PWD", ["$PWD"]),
    ("'a\\nb'", "a\\nb", ["a\\nb"]),  # nothing escapes inside single quotes
    (r'"a\nb"', "a\\nb", ["a\\nb"]),  # inside double quotes \ escapes only " $ and \
    (r'"a\"b"', 'a"b', ['a"b']),
    (r"a\ b", "a b", ["a b"]),
    ("a b", "a b", ["a", "b"]),
    ('"a b"', "a b", ["a b"]),
    ("$SPACED", "a b  c", ["a", "b", "c"]),  # unquoted expansions split into words
    ('"$SPACED"', "a b  c", ["a b  c"]),
    ('x"y"\'z\'', "xyz", ["xyz"]),
    ('a "" b', "a  b", ["a", "b"]),  # an empty quoted word disappears from the word list
    ("$", "$", ["$"]),
    ("a$ b", "a$ b", ["a$", "b"]),
    ("$1x", "x", ["x"]),  # positional parameters are names, unset here
    ("${UNSET:-default}", "default", ["default"]),
    ("${EMPTY:-default}", "default", ["default"]),
    ("${EMPTY-default}", "", []),  # without ':' only unset counts
    ("${UNSET-default}", "default", ["default"]),
    ("${PWD:-default}", "/home", ["/home"]),
    ("${PWD:+alt}", "alt", ["alt"]),
    ("${EMPTY:+alt}", "", []),
    ("${EMPTY+alt}", "alt", ["alt"]),
    ("${UNSET+alt}", "", []),
    ("${UNSET:-$PWD}", "/home", ["/home"]),
    ("${UNSET:-${SHELL:-x}}", "bash", ["bash"]),
    ('${UNSET:-"a b"}', "a b", ["a", "b"]),
    ('"${UNSET:-a b}"', "a b", ["a b"]),
    (r"${UNSET:-\}}", "}", ["}"]),
    ("${EMPTY?must be set}", "", []),
    ("${FILE%.gz}", "foo.tar", ["foo.tar"]),
    ("${FILE%%.*}", "foo", ["foo"]),
    ("${FILE#*.}", "tar.gz", ["tar.gz"]),
    ("${FILE##*.}", "gz", ["gz"]),
    ("${FILE#nomatch}", "foo.tar.gz", ["foo.tar.gz"]),
    ("${FILE%.?z}", "foo.tar", ["foo.tar"]),
    (r"${STAR#\*}", "", []),
    ("${FILE/o/0}", "f0o.tar.gz", ["f0o.tar.gz"]),
    ("${FILE//o/0}", "f00.tar.gz", ["f00.tar.gz"]),
    ("${PATH//:/ }", "/usr/bin /bin", ["/usr/bin", "/bin"]),
    ("${UNSET/a/b}", "", []),
]


@pytest.mark.parametrize(("word", "as_word", "as_words"), ROWS, ids=[r[0] for r in ROWS])
def test_expand(word: str, as_word: str, as_words: list[str]) -> None:
    assert expand_word(word, ENV) == as_word
    assert expand_words(word, ENV) == as_words


UNCLOSED = "unexpected end of statement while looking for matching "
ERRORS = [
    ("${UNSET:?}", 'failed to process "${UNSET:?}": UNSET: is not allowed to be unset'),
    ("${UNSET?}", 'failed to process "${UNSET?}": UNSET: is not allowed to be unset'),
    ("${EMPTY:?}", 'failed to process "${EMPTY:?}": EMPTY: is not allowed to be empty'),
    ("${EMPTY:?set it}", 'failed to process "${EMPTY:?set it}": EMPTY: set it'),
    ("${PWD", "failed to process \"${PWD\": syntax error: missing '}'"),
    ("${PWD:-x", "failed to process \"${PWD:-x\": syntax error: missing '}'"),
    ("${}", "failed to process \"${}\": syntax error: bad substitution"),
    ("${:-x}", "failed to process \"${:-x}\": syntax error: bad substitution"),
    ("${PWD!}", 'failed to process "${PWD!}": unsupported modifier (!) in substitution'),
    ("${PWD:#x}", 'failed to process "${PWD:#x}": unsupported modifier (:#) in substitution'),
    ("${FILE/x}", "failed to process \"${FILE/x}\": syntax error: missing '/' in ${}"),
    ('"open', 'failed to process "\\"open": ' + UNCLOSED + "double-quote"),
    ("'open", "failed to process \"'open\": " + UNCLOSED + "single-quote"),
    (
        r"${FILE#\x}",
        r"""failed to process "${FILE#\\x}": invalid pattern (\x) in substitution: invalid escape '\x'""",
    ),
]


@pytest.mark.parametrize(("word", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_expand_errors(word: str, message: str) -> None:
    with pytest.raises(ExpansionError) as info:
        expand_word(word, ENV)
    assert str(info.value) == message


ESCAPES = [
    ("`$PWD", "$PWD"),  # the backtick escapes
    ("c:\\dir\\$PWD", "c:\\dir\\/home"),  # and the backslash is an ordinary character
    ('"a`"b"', 'a"b'),
    ('"a\\"', "a\\"),
]


@pytest.mark.parametrize(("word", "expected"), ESCAPES, ids=[e[0] for e in ESCAPES])
def test_backtick_escape(word: str, expected: str) -> None:
    assert expand_word(word, ENV, escape="`") == expected


def test_mapping_is_only_read() -> None:
    env = {"A": "1"}
    assert expand_word("$A$B", env) == "1"
    assert env == {"A": "1"}


def test_heredoc_body_keeps_quotes_and_expands_inside_them() -> None:
    body = "name=\"$SHELL\" '$PWD'\nliteral=\\$PWD\n"
    assert expand_heredoc(body, ENV) == "name=\"bash\" '/home'\nliteral=$PWD\n"
