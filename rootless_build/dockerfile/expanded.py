"""Apply variable expansion to an instruction, on exactly the fields docker expands.

Expanded: FROM (image, platform; the build passes the global ARGs), ENV and LABEL
(keys and values), ARG (names and defaults), COPY/ADD (sources, destination, --from,
--chown, --chmod, --checksum, --exclude, and heredoc bodies whose delimiter is not
quoted), EXPOSE (split into words, then checked), VOLUME, WORKDIR, USER, STOPSIGNAL.
Not expanded: RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK (the container's shell does
it; RUN --mount values expand in mounts.parse_mount), MAINTAINER and ONBUILD.
Apply once: the result is plain text, and expanding it again would expand it again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from rootless_build.dockerfile.base import Instruction
from rootless_build.dockerfile.copy_instructions import Add, Copy
from rootless_build.dockerfile.expand import ExpansionError, expand_heredoc, expand_word, expand_words
from rootless_build.dockerfile.from_instruction import From
from rootless_build.dockerfile.heredoc import Heredoc
from rootless_build.dockerfile.meta_instructions import (
    Arg,
    ArgDef,
    Env,
    Expose,
    KeyValue,
    Label,
    StopSignal,
    User,
    Volume,
    Workdir,
)
from rootless_build.dockerfile.ports import PortError, parse_port_spec
from rootless_build.errors import DockerfileError
from rootless_build.record import replace

InstrT = TypeVar("InstrT", bound=Instruction)


class _Expander:
    def __init__(self, env: Mapping[str, str], escape: str) -> None:
        self.env = env
        self.escape = escape

    def word(self, text: str) -> str:
        return expand_word(text, self.env, self.escape)

    def optional(self, text: str | None) -> str | None:
        return None if text is None else self.word(text)

    def all(self, texts: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(self.word(text) for text in texts)

    def heredocs(self, heredocs: tuple[Heredoc, ...]) -> tuple[Heredoc, ...]:
        return tuple(
            replace(h, content=expand_heredoc(h.content, self.env)) if h.expand else h for h in heredocs
        )


def _from(i: From, x: _Expander) -> From:
    return replace(i, image=x.word(i.image), platform=x.optional(i.platform))


def _pairs(pairs: tuple[KeyValue, ...], x: _Expander) -> tuple[KeyValue, ...]:
    return tuple(KeyValue(x.word(p.key), x.word(p.value)) for p in pairs)


def _arg(i: Arg, x: _Expander) -> Arg:
    return replace(i, args=tuple(ArgDef(x.word(a.name), x.optional(a.default)) for a in i.args))


def _copy(i: Copy, x: _Expander) -> Copy:
    return replace(
        i,
        sources=x.all(i.sources),
        dest=x.word(i.dest),
        heredocs=x.heredocs(i.heredocs),
        from_=x.optional(i.from_),
        chown=x.optional(i.chown),
        chmod=x.optional(i.chmod),
        excludes=x.all(i.excludes),
    )


def _add(i: Add, x: _Expander) -> Add:
    return replace(
        i,
        sources=x.all(i.sources),
        dest=x.word(i.dest),
        heredocs=x.heredocs(i.heredocs),
        chown=x.optional(i.chown),
        chmod=x.optional(i.chmod),
        checksum=x.optional(i.checksum),
        excludes=x.all(i.excludes),
    )


def _expose(i: Expose, x: _Expander) -> Expose:
    ports = tuple(port for spec in i.ports for port in expand_words(spec, x.env, x.escape))
    for port in ports:
        parse_port_spec(port)
    return replace(i, ports=ports)


_HANDLERS: dict[type, Callable[[Any, _Expander], Instruction]] = {
    From: _from,
    Env: lambda i, x: replace(i, pairs=_pairs(i.pairs, x)),
    Label: lambda i, x: replace(i, pairs=_pairs(i.pairs, x)),
    Arg: _arg,
    Copy: _copy,
    Add: _add,
    Expose: _expose,
    Volume: lambda i, x: replace(i, paths=x.all(i.paths)),
    Workdir: lambda i, x: replace(i, path=x.word(i.path)),
    User: lambda i, x: replace(i, user=x.word(i.user)),
    StopSignal: lambda i, x: replace(i, signal=x.word(i.signal)),
}


def expanded(instruction: InstrT, env: Mapping[str, str], *, filename: str = "Dockerfile") -> InstrT:
    """A new instruction with variables from `env` expanded (unset ones expand to "")."""
    handler = _HANDLERS.get(type(instruction))
    if handler is None:
        return instruction
    try:
        result = handler(instruction, _Expander(env, instruction.escape))
    except (ExpansionError, PortError) as e:
        raise DockerfileError(str(e), filename, instruction.line) from None
    assert isinstance(result, type(instruction))
    return result
