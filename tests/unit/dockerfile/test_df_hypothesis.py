"""Property fuzzing of the parser and expansion (hypothesis): whatever the text, only
the tree's one-line errors escape, and every input finishes within the deadline."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rootless_build.dockerfile import (
    expand_heredoc,
    expand_word,
    expand_words,
    expanded,
    parse,
    parse_instruction,
    parse_mount,
)
from rootless_build.dockerfile.expand import ExpansionError
from rootless_build.dockerfile.mounts import MountError
from rootless_build.errors import DockerfileError

# Pieces of Dockerfile syntax, so that random text reaches past the first keyword check
_TOKENS = [
    "FROM", "RUN", "COPY", "ADD", "ENV", "ARG", "LABEL", "ONBUILD", "HEALTHCHECK", "CMD",
    "EXPOSE", "VOLUME", "USER", "WORKDIR", "SHELL", "STOPSIGNAL", "MAINTAINER", "ENTRYPOINT",
    "busybox", " AS ", "--from=", "--mount=", "type=cache,target=/x", "--chown=", "--interval=",
    "<<EOF", "<<-EOF", "<<'E'", "EOF", "\\", "`", "\n", " ", "\t", "#", "# escape=`\n",
    "# syntax=x\n", "[", "]", '"', "'", "$", "${", "}", ":-", ":+", ":?", "#", "##", "%", "%%",
    "/", "//", "*", "?", "A", "=", "80/tcp", "\r\n", "\ufeff", "\x00", "é",
]
_text = st.lists(
    st.one_of(st.sampled_from(_TOKENS), st.text(max_size=6)), max_size=60
).map("".join)
_env = st.dictionaries(st.sampled_from(["A", "B", "X", "1", "_"]), st.text(max_size=8), max_size=3)

_FUZZ = settings(
    max_examples=300,
    deadline=timedelta(seconds=2),  # generous for a loaded CI machine; a hang or blow-up exceeds it
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,  # the same inputs on every run: CI failures reproduce
    database=None,  # and no .hypothesis/ directory in the tree
)


def _one_line(e: Exception) -> None:
    assert str(e) and "\n" not in str(e), repr(str(e))


@_FUZZ
@given(body=_text, env=_env, prefix=st.sampled_from(["", "FROM busybox\n", "FROM busybox\nRUN "]))
def test_parse_and_expand_raise_only_dockerfile_errors(body: str, env: dict[str, str], prefix: str) -> None:
    try:
        df = parse(prefix + body)
        for stage in df.stages:
            expanded(stage.from_, env)
            for instr in stage.instructions:
                expanded(instr, env)
                for spec in getattr(instr, "mounts", ()):
                    try:
                        parse_mount(spec, env)
                    except MountError as e:
                        _one_line(e)
    except DockerfileError as e:
        _one_line(e)


@_FUZZ
@given(text=_text, env=_env, escape=st.sampled_from(["\\", "`"]))
def test_expansion_raises_only_expansion_errors(text: str, env: dict[str, str], escape: str) -> None:
    for expand in (expand_word, expand_words):
        try:
            expand(text, env, escape)
        except ExpansionError as e:
            _one_line(e)
    try:
        expand_heredoc(text, env)
    except ExpansionError as e:
        _one_line(e)


@_FUZZ
@given(text=_text)
def test_onbuild_triggers_and_changes_raise_only_dockerfile_errors(text: str) -> None:
    # ONBUILD triggers of pulled images and `commit --change` come here, one instruction each
    try:
        parse_instruction(text)
    except DockerfileError as e:
        _one_line(e)
