"""Variable expansion as the Dockerfile frontend does it (see lexer.py for the forms).

Undefined variables expand to nothing; single quotes stop expansion, double quotes
do not; the escape character (the Dockerfile's `# escape=`) makes `$` literal.
"""

from __future__ import annotations

from collections.abc import Mapping

from rootless_build.dockerfile.lexer import Lexer, LexError
from rootless_build.dockerfile.words import go_quote
from rootless_build.errors import RootlessBuildError


class ExpansionError(RootlessBuildError):
    """A word that cannot be expanded (bad syntax, `${v:?msg}`); `expanded()` adds file:line."""


def _run(lexer: Lexer, word: str, env: Mapping[str, str], split: bool) -> str | list[str]:
    try:
        return lexer.words(word, env) if split else lexer.word(word, env)
    except LexError as e:
        raise ExpansionError(f"failed to process {go_quote(word)}: {e}") from None


def expand_word(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """One word in, one string out: quotes removed, blanks kept (ENV values, WORKDIR, ...)."""
    result = _run(Lexer(escape), word, env, split=False)
    assert isinstance(result, str)
    return result


def expand_words(word: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Expand, then split on unquoted blanks, quotes removed (EXPOSE's ports)."""
    result = _run(Lexer(escape), word, env, split=True)
    assert isinstance(result, list)
    return result


def expand_heredoc(content: str, env: Mapping[str, str]) -> str:
    """A COPY/ADD heredoc body with an unquoted delimiter: `$` forms expand, quotes stay.

    Docker uses a backslash escape here whatever the escape directive says.
    """
    result = _run(Lexer("\\", skip_quotes=True), content, env, split=False)
    assert isinstance(result, str)
    return result
