"""Instruction-level behaviour: flags, durations, mounts, single instructions, stage lookup."""

from __future__ import annotations

import pytest

from rootless_build.dockerfile import (
    Cmd,
    Copy,
    Env,
    Instruction,
    Mount,
    MountError,
    Onbuild,
    Run,
    parse,
    parse_instruction,
    parse_mount,
)
from rootless_build.dockerfile.durations import DurationError, parse_duration
from rootless_build.dockerfile.flags import FlagError, FlagKind, parse_flags
from rootless_build.dockerfile.instructions import PARSERS
from rootless_build.errors import DockerfileError

ACCEPTED = {"link": FlagKind.BOOL, "from": FlagKind.STRING, "exclude": FlagKind.STRINGS}


@pytest.mark.parametrize(
    ("flags", "values"),
    [
        ([], {}),
        (["--link"], {"link": True}),
        (["--link=true"], {"link": True}),
        (["--link=False"], {"link": False}),
        (["--from="], {"from": ""}),
        (["--from=a=b"], {"from": "a=b"}),
        (["--exclude=a", "--exclude=b"], {"exclude": ("a", "b")}),
    ],
)
def test_flags(flags: list[str], values: dict[str, object]) -> None:
    assert parse_flags(flags, ACCEPTED) == values


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--frm=x"], "unknown flag: --frm"),
        (["--link", "--link=false"], "duplicate flag specified: --link"),
        (["--link="], "missing a value on flag: --link"),
        (["--link=yes"], "expecting boolean value for flag --link, not: yes"),
        (["--from"], "missing a value on flag: --from"),
        (["--exclude"], "missing a value on flag: --exclude"),
    ],
)
def test_flag_errors(flags: list[str], message: str) -> None:
    with pytest.raises(FlagError) as info:
        parse_flags(flags, ACCEPTED)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0),
        ("30s", 30_000_000_000),
        ("1m30s", 90_000_000_000),
        ("1.5h", 5_400_000_000_000),
        ("300ms", 300_000_000),
        ("10us", 10_000),
        ("10µs", 10_000),
        ("2ns", 2),
        (".5s", 500_000_000),
        ("-1s", -1_000_000_000),
    ],
)
def test_durations(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("5", 'time: missing unit in duration "5"'),
        ("5d", 'time: unknown unit "d" in duration "5d"'),
        ("s", 'time: invalid duration "s"'),
        ("1..5s", 'time: missing unit in duration "1..5s"'),
        (".s", 'time: invalid duration ".s"'),
    ],
)
def test_duration_errors(text: str, message: str) -> None:
    with pytest.raises(DurationError) as info:
        parse_duration(text)
    assert str(info.value) == message


def test_mount_defaults_and_expansion() -> None:
    assert parse_mount("type=cache,target=/c,id=$ID,sharing=LOCKED", {"ID": "pip"}) == Mount(
        type="cache", target="/c", id="pip", sharing="locked", readonly=False
    )
    bind = Mount(type="bind", target="/src", source=".", readonly=True)
    assert parse_mount("target=/src,source=.", {}) == bind
    assert parse_mount("type=bind,target=/s,rw", {}).readonly is False
    assert parse_mount("type=secret,id=tok,required,mode=0400,uid=1", {}) == Mount(
        type="secret", id="tok", required=True, mode=0o400, uid=1, readonly=True
    )
    assert parse_mount('type=tmpfs,"target=/t a",size=64m', {}) == Mount(
        type="tmpfs", target="/t a", size="64m", readonly=False
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("type=nfs,target=/x", 'unsupported mount type "nfs"'),
        ("type=bind,target=/x,mode=0700", 'mode not allowed for "bind" type mounts'),
        ("type=bind,target=/x,sharing=shared", "invalid cache sharing set for bind mount"),
        ("type=cache,target=/x,sharing=exclusive", 'unsupported sharing value "exclusive"'),
        ("type=cache,target=/x,required", "unexpected key 'required' for mount type 'cache'"),
        ("type=cache,target=/x,colour=red", "unexpected key 'colour' in 'colour=red'"),
        ("type=secret,from=img,id=a", "secret mount should not have a from"),
        ("type=secret", "invalid secret mount. one of source, target required"),
        ("type=cache,target=/x,uid=-1", "invalid value -1 for uid"),
        ("type=cache,target=/x,mode=9", "invalid value 9 for mode"),
        ("type=cache,target=/x,ro=maybe", "invalid value for ro: maybe"),
        ("type=cache", "mount type cache requires a target"),
        (
            "type=bind,from=$STAGE,target=/x",
            "'from' doesn't support variable expansion, define alias stage instead",
        ),
    ],
)
def test_mount_errors(spec: str, message: str) -> None:
    with pytest.raises(MountError) as info:
        parse_mount(spec, {"STAGE": "s"})
    assert str(info.value) == message


def test_every_keyword_has_a_parser_and_a_class() -> None:
    assert sorted(PARSERS) == sorted(
        "add arg cmd copy entrypoint env expose from healthcheck label maintainer "
        "onbuild run shell stopsignal user volume workdir".split()
    )
    for keyword, parse_fn in PARSERS.items():
        assert parse_fn.__name__ == f"parse_{keyword}"


@pytest.mark.parametrize(
    ("text", "kind"),
    [('CMD ["x"]', Cmd), ("ENV A=1", Env), ("COPY a b", Copy), ("ONBUILD RUN x", Onbuild)],
)
def test_parse_instruction(text: str, kind: type[Instruction]) -> None:
    instr = parse_instruction(text)
    assert type(instr) is kind
    assert instr.keyword == text.split()[0]
    assert (instr.line, instr.end_line, instr.original) == (1, 1, text)


def test_parse_instruction_errors_name_the_source() -> None:
    with pytest.raises(DockerfileError) as info:
        parse_instruction("EXPOSE abc")
    assert str(info.value) == "--change:1: invalid containerPort: abc"
    with pytest.raises(DockerfileError) as info:
        parse_instruction("ENV A=1\nENV B=2")
    assert str(info.value) == "--change: expected exactly one instruction, got 2"


def test_parse_instruction_with_backtick_escape_keeps_line_numbers() -> None:
    instr = parse_instruction("RUN dir c:\\ `\n  && echo", escape="`")
    assert isinstance(instr, Run)
    assert (instr.args, instr.line, instr.end_line, instr.escape) == (("dir c:\\   && echo",), 1, 2, "`")


def test_stage_lookup_by_name_and_index() -> None:
    df = parse("FROM a AS Build\nFROM b\nFROM c AS final\n")
    assert df.stage("build") is df.stages[0]
    assert df.stage("BUILD") is df.stages[0]
    assert df.stage("1") is df.stages[1]
    assert df.stage("final") is df.stages[2]
    assert df.stage("3") is None and df.stage("other") is None


def test_instructions_are_frozen_and_hashable() -> None:
    instr = parse_instruction("COPY --exclude=a --link x y /z")
    assert hash(instr) == hash(parse_instruction("COPY --exclude=a --link x y /z"))
