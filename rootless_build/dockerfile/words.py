"""Splitting an instruction's text the ways BuildKit's line parsers do.

Each instruction picks one: whitespace fields (FROM, EXPOSE), a JSON array or
whitespace fields (COPY, ADD, VOLUME), a JSON array or the whole text (RUN, CMD,
ENTRYPOINT, SHELL), or quote-aware words that keep their quotes (ENV, LABEL, ARG;
the quotes go when the value is expanded). Nothing here expands variables.
"""

from __future__ import annotations

import json
import re

_WHITESPACE = re.compile(r"[\t\v\f\r ]+")

NOT_STRING_ARRAY = "when using JSON array syntax, arrays must be comprised of strings only"


class WordsError(Exception):
    """A malformed instruction text; the caller adds the file and line."""


def go_quote(text: str) -> str:
    """Go's %q for the strings docker prints in its messages."""
    return json.dumps(text, ensure_ascii=False)


def split_command(line: str) -> tuple[str, tuple[str, ...], str]:
    """`KEYWORD --flag=v ... rest` -> (keyword as written, flags, rest)."""
    parts = _WHITESPACE.split(line.strip(), maxsplit=1)
    if len(parts) < 2:
        return parts[0], (), ""
    rest, flags = extract_flags(parts[1])
    return parts[0], tuple(flags), rest.strip()


def extract_flags(line: str) -> tuple[str, list[str]]:
    """Leading `--name[=value]` words (quotes removed, `\\` escapes) and the remaining text.

    A bare `--` ends the flags; the first word not starting with `--` is the rest.
    The escape here is always a backslash, whatever the escape directive says.
    """
    words: list[str] = []
    word: list[str] = []
    in_quote: str | None = None
    in_word = False
    blank_ok = False
    pos, end = 0, len(line)
    while pos < end:
        ch = line[pos]
        if not in_word:
            if ch.isspace():
                pos += 1
                continue
            if not line.startswith("--", pos):
                return line[pos:], words
            in_word = True
        if in_quote is None:
            if ch.isspace():
                text = "".join(word)
                if text == "--":
                    return line[pos:], words
                if blank_ok or text:
                    words.append(text)
                word, blank_ok, in_word = [], False, False
            elif ch in "'\"":
                in_quote, blank_ok = ch, True
            elif ch == "\\":
                if pos + 1 < end:
                    pos += 1
                    word.append(line[pos])
            else:
                word.append(ch)
        elif ch == in_quote:
            in_quote = None
        elif ch == "\\":
            if pos + 1 < end:
                pos += 1
                word.append(line[pos])
            else:
                in_quote = None
        else:
            word.append(ch)
        pos += 1
    text = "".join(word)
    if in_word and text != "--" and (blank_ok or text):
        words.append(text)
    return "", words


def split_whitespace(rest: str) -> list[str]:
    """Fields separated by blanks, no quoting (FROM, EXPOSE and the non-JSON COPY form)."""
    return _WHITESPACE.split(rest) if rest else []


def _reject_constant(name: str) -> None:
    raise ValueError(name)  # NaN and Infinity are not JSON to Go either


def parse_json_array(rest: str) -> list[str] | None:
    """The exec form `["a", "b"]`, or None when the text is not a JSON array.

    An array holding anything but strings is an error rather than shell form.
    """
    text = rest.lstrip()
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(item, str) for item in value):
        raise WordsError(NOT_STRING_ARRAY)
    return value


def is_json_array(rest: str) -> bool:
    try:
        return parse_json_array(rest) is not None
    except WordsError:
        return True


def parse_words(rest: str, escape: str) -> list[str]:
    """Blank-separated words where quotes group blanks; quotes and escapes are kept."""
    words: list[str] = []
    word: list[str] = []
    in_word = False
    in_quote: str | None = None
    blank_ok = False
    pos, end = 0, len(rest)
    while pos < end:
        ch = rest[pos]
        if not in_word:
            if ch.isspace():
                pos += 1
                continue
            in_word = True
        if in_quote is None:
            if ch.isspace():
                if blank_ok or word:
                    words.append("".join(word))
                word, blank_ok, in_word = [], False, False
                pos += 1
                continue
            if ch in "'\"":
                in_quote, blank_ok = ch, True
            elif ch == escape:
                if pos + 1 == end:
                    pos += 1  # a trailing escape is dropped
                    continue
                word.append(ch)
                pos += 1
                ch = rest[pos]
            word.append(ch)
        else:
            if ch == in_quote:
                in_quote = None
            elif ch == escape and in_quote != "'":
                if pos + 1 == end:
                    in_quote = None
                    pos += 1
                    continue
                word.append(ch)
                pos += 1
                ch = rest[pos]
            word.append(ch)
        pos += 1
    if in_word and (blank_ok or word):
        words.append("".join(word))
    return words


def parse_name_values(rest: str, keyword: str, escape: str) -> list[tuple[str, str]]:
    """ENV/LABEL pairs: `K=V K2="v 2"` or the legacy `K the rest of the line`."""
    words = parse_words(rest, escape)
    if not words:
        return []
    if "=" not in words[0]:
        parts = _WHITESPACE.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise WordsError(f"{keyword} must have two arguments")
        return [(parts[0], parts[1])]
    pairs = []
    for word in words:
        if "=" not in word:
            raise WordsError(
                f"Syntax error - can't find = in {go_quote(word)}. Must be of the form: name=value"
            )
        key, value = word.split("=", 1)
        pairs.append((key, value))
    return pairs
