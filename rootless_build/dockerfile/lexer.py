"""The shell-like lexer of BuildKit's Dockerfile frontend: quotes, escapes, `$var` forms.

It produces either one string (quotes removed, blanks kept) or the list of words
(split on unquoted blanks, also inside expanded values). Not a shell: no command
substitution, no globbing, no arithmetic.

Supported: `$v`, `${v}`, `${v:-w}`, `${v-w}`, `${v:+w}`, `${v+w}`, `${v:?msg}`,
`${v?msg}`, `${v#pat}`, `${v##pat}`, `${v%pat}`, `${v%%pat}`, `${v/pat/r}`, `${v//pat/r}`.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

from rootless_build.dockerfile import patterns

_SPECIAL_PARAMS = "@*#?-$!0"


class LexError(Exception):
    """A malformed word or a failed `${v?}`; the caller adds which word and where."""


class _Words:
    """Accumulates words: unquoted blanks separate them, quoted text never does."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self.buf: list[str] = []  # pieces joined once per word: `str +=` on an attribute is quadratic

    def add_char(self, ch: str) -> None:
        if ch.isspace():
            # an empty quoted word ("") leaves nothing to emit: docker drops it
            if self.buf:
                if text := "".join(self.buf):
                    self.words.append(text)
                self.buf = []
        else:
            self.buf.append(ch)

    def add_raw(self, text: str) -> None:
        self.buf.append(text)

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def result(self) -> list[str]:
        if text := "".join(self.buf):
            self.words.append(text)
        self.buf = []
        return self.words


class Lexer:
    """Options mirror BuildKit's: keep quotes, keep escapes, treat quotes as plain
    characters, leave unset variables as written."""

    def __init__(
        self,
        escape: str = "\\",
        *,
        raw_quotes: bool = False,
        raw_escapes: bool = False,
        skip_quotes: bool = False,
        skip_unset: bool = False,
    ) -> None:
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_quotes = skip_quotes
        self.skip_unset = skip_unset

    def word(self, text: str, env: Mapping[str, str]) -> str:
        return _Scan(self, text, env).run()[0]

    def words(self, text: str, env: Mapping[str, str]) -> list[str]:
        return _Scan(self, text, env).run()[1]


# The scanner is written as recursive descent, but each method that may nest is a
# generator that `yield`s the sub-scan it needs and receives its result: `_drive` keeps
# the pending scans on a list, so `${a:-${b:-...}}` nested thousands deep never touches
# Python's recursion limit.
_Step = Generator["_Step", Any, Any]
_MAX_PENDING = 40_000  # ~4 pending scans per `${v:-` level: 10000 levels, ~15 MB


def _drive(top: _Step) -> Any:
    stack: list[_Step] = [top]
    value: Any = None
    error: LexError | None = None
    while True:
        gen = stack[-1]
        try:
            if error is not None:
                pending, error = error, None
                sub = gen.throw(pending)
            else:
                sub = gen.send(value)
        except StopIteration as done:
            stack.pop()
            if not stack:
                return done.value
            value = done.value
            continue
        except LexError as e:
            stack.pop()
            if not stack:
                raise
            error = e
            continue
        if len(stack) >= _MAX_PENDING:
            raise LexError(f"substitutions nested more than {_MAX_PENDING // 4} deep")
        stack.append(sub)
        value = None


class _Scan:
    def __init__(self, lexer: Lexer, text: str, env: Mapping[str, str]) -> None:
        self.lx = lexer
        self.text = text
        self.pos = 0
        self.env = env
        self.raw_escapes = lexer.raw_escapes

    def run(self) -> tuple[str, list[str]]:
        result: tuple[str, list[str]] = _drive(self.stop_on(None, self.raw_escapes))
        return result

    def peek(self) -> str | None:
        return self.text[self.pos] if self.pos < len(self.text) else None

    def next(self) -> str | None:
        ch = self.peek()
        if ch is not None:
            self.pos += 1
        return ch

    def stop_on(self, stop: str | None, raw_escapes: bool) -> _Step:
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            return (yield self._stop_on(stop))
        finally:
            self.raw_escapes = saved

    def _stop_on(self, stop: str | None) -> _Step:
        result: list[str] = []
        words = _Words()
        quotes = not self.lx.skip_quotes
        while (ch := self.peek()) is not None:
            if stop is not None and ch == stop:
                self.next()
                return "".join(result), words.result()
            if ch == "$":
                piece = yield self.dollar()
                result.append(piece)
                words.add_string(piece)  # an expanded value splits into words
                continue
            if quotes and ch in "'\"":
                piece = self.single_quote() if ch == "'" else (yield self.double_quote())
                result.append(piece)
                words.add_raw(piece)
                continue
            self.next()
            if ch == self.lx.escape:
                if self.raw_escapes:
                    words.add_raw(ch)
                    result.append(ch)
                escaped = self.next()
                if escaped is None:
                    break
                words.add_raw(escaped)
                result.append(escaped)
            else:
                words.add_char(ch)
                result.append(ch)
        if stop is not None:
            raise LexError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.result()

    def single_quote(self) -> str:
        # everything up to the next ' is literal; a ' cannot be escaped inside
        opening = self.next()
        end = self.text.find("'", self.pos)
        if end < 0:
            self.pos = len(self.text)
            raise LexError("unexpected end of statement while looking for matching single-quote")
        body = self.text[self.pos:end]
        self.pos = end + 1
        return f"{opening}{body}'" if opening and self.lx.raw_quotes else body

    def double_quote(self) -> _Step:
        # literal except $ and the escape, which escapes only " $ and itself
        opening = self.next()
        out = [opening] if opening and self.lx.raw_quotes else []
        while True:
            ch = self.peek()
            if ch is None:
                raise LexError("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.next()
                if self.lx.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if ch == "$":
                out.append((yield self.dollar()))
                continue
            self.next()
            if ch == self.lx.escape:
                following = self.peek()
                if following is None:
                    if self.raw_escapes:
                        out.append(ch)
                    continue
                if following in ('"', "$", self.lx.escape):
                    if self.raw_escapes:
                        out.append(ch)
                    self.next()
                    ch = following
            out.append(ch)

    def name(self) -> str:
        """A variable name; `$1`-style digits and special parameters are names too."""
        first = self.peek()
        if first is None:
            return ""
        if first.isdecimal():
            start = self.pos
            while (ch := self.peek()) is not None and ch.isdecimal():
                self.next()
            return self.text[start:self.pos]
        if first in _SPECIAL_PARAMS:
            self.next()
            return first
        start = self.pos
        while (ch := self.peek()) is not None and (ch.isalpha() or ch.isdecimal() or ch == "_"):
            self.next()
        return self.text[start:self.pos]

    def lookup(self, name: str) -> str | None:
        return self.env.get(name)

    def dollar(self) -> _Step:
        self.next()
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            value = self.lookup(name)
            if value is None:
                return "$" + name if self.lx.skip_unset else ""
            return value
        self.next()
        following = self.peek()
        if following is None:
            raise LexError("syntax error: missing '}'")
        if following in "{}:":
            raise LexError("syntax error: bad substitution")
        name = self.name()
        op = self.next()
        if op == "}":
            value = self.lookup(name)
            if value is None:
                return "${" + name + "}" if self.lx.skip_unset else ""
            return value
        if op == "/":
            return (yield self._replace(name))
        if op is None:
            raise LexError("syntax error: missing '}'")
        null_is_unset = op == ":"
        modifier = self.next() if null_is_unset else op
        written = op + (modifier or "") if null_is_unset else op
        if not null_is_unset and modifier not in ("+", "-", "?", "#", "%"):
            raise LexError(f"unsupported modifier ({written}) in substitution")
        pattern_like = modifier in ("#", "%")
        if null_is_unset and pattern_like:
            raise LexError(f"unsupported modifier ({written}) in substitution")
        word = yield self._until("}", pattern_like, "syntax error: missing '}'")
        value = self.lookup(name)
        if value is None and self.lx.skip_unset:
            return "${" + name + written + word + "}"
        return _apply(name, modifier, written, word, value, null_is_unset)

    def _until(self, stop: str, raw_escapes: bool, at_eof: str) -> _Step:
        try:
            text, _words = yield self.stop_on(stop, raw_escapes)
            return text
        except LexError:
            if self.peek() is None:
                raise LexError(at_eof) from None
            raise

    def _replace(self, name: str) -> _Step:
        every = self.peek() == "/"
        if every:
            self.next()
        pattern = yield self._until("/", True, "syntax error: missing '/' in ${}")
        replacement = yield self._until("}", True, "syntax error: missing '}'")
        value = self.lookup(name)
        if value is None and self.lx.skip_unset:
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        try:
            return patterns.replace(pattern, replacement, value or "", every=every)
        except patterns.PatternError as e:
            raise LexError(f"invalid pattern ({pattern}) in substitution: {e}") from None


def _apply(
    name: str, modifier: str | None, written: str, word: str, value: str | None, null_is_unset: bool
) -> str:
    unset = value is None or (null_is_unset and value == "")
    if modifier == "-":
        return word if unset else value or ""
    if modifier == "+":
        return "" if unset else word
    if modifier == "?":
        if value is None:
            raise LexError(f"{name}: {word or 'is not allowed to be unset'}")
        if null_is_unset and value == "":
            raise LexError(f"{name}: {word or 'is not allowed to be empty'}")
        return value
    if modifier in ("#", "%"):
        greedy = word.startswith(modifier)
        pattern = word[1:] if greedy else word
        trim = patterns.trim_prefix if modifier == "#" else patterns.trim_suffix
        try:
            return trim(pattern, value or "", greedy=greedy)
        except patterns.PatternError as e:
            raise LexError(f"invalid pattern ({pattern}) in substitution: {e}") from None
    raise LexError(f"unsupported modifier ({written}) in substitution")
