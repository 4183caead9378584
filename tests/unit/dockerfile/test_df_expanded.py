"""expanded(): which fields docker expands, and which it leaves to the container's shell."""

from __future__ import annotations

import pytest

from rootless_build.dockerfile import (
    ArgDef,
    KeyValue,
    expanded,
    exposed_ports,
    parse,
    parse_instruction,
)
from rootless_build.errors import DockerfileError

ENV = {"HOME": "/root", "USER": "app", "PORT": "8080", "TWO": "81 82", "V": "1.2", "EMPTY": ""}


def one(text: str, env: dict[str, str] = ENV):
    return expanded(parse_instruction(text), env)


def test_env_keys_values_and_quote_removal() -> None:
    instr = one('ENV A=$HOME B="$USER x" C=\'$USER\' D=a\\ b ${USER}_KEY=v')
    assert instr.pairs == (
        KeyValue("A", "/root"),
        KeyValue("B", "app x"),
        KeyValue("C", "$USER"),
        KeyValue("D", "a b"),
        KeyValue("app_KEY", "v"),
    )


def test_env_legacy_value_is_one_word_with_blanks_kept() -> None:
    assert one('ENV MSG hello  "$USER"  world').pairs == (KeyValue("MSG", "hello  app  world"),)


def test_label_and_arg() -> None:
    assert one('LABEL "com.example"="v$V" plain=x').pairs == (
        KeyValue("com.example", "v1.2"),
        KeyValue("plain", "x"),
    )
    assert one('ARG A=$V B C="x $USER"').args == (ArgDef("A", "1.2"), ArgDef("B"), ArgDef("C", "x app"))


def test_copy_fields_and_heredocs() -> None:
    df = parse(
        "FROM x AS s\nFROM y\n"
        "COPY --from=$USER --chown=$USER:$USER --chmod=${MODE:-644} --exclude=$V/* "
        "src/$V <<A <<'B' /dst/$HOME/\n$USER $HOME\nA\n$USER\nB\n"
    )
    instr = expanded(df.stages[1].instructions[0], ENV)
    assert instr.sources == ("src/1.2",)
    assert instr.dest == "/dst//root/"
    assert (instr.from_, instr.chown, instr.chmod, instr.excludes) == ("app", "app:app", "644", ("1.2/*",))
    assert [h.content for h in instr.heredocs] == ["app /root\n", "$USER\n"]


def test_add_checksum_is_expanded() -> None:
    instr = one("ADD --checksum=sha256:$V https://example.com/$V.tgz /")
    assert instr.checksum == "sha256:1.2"
    assert (instr.sources, instr.dest) == (("https://example.com/1.2.tgz",), "/")


def test_json_form_copy_arguments_are_expanded_too() -> None:
    assert one('COPY ["$USER file", "/$HOME/"]').sources == ("app file",)


def test_single_word_instructions() -> None:
    assert one("WORKDIR $HOME/work").path == "/root/work"
    assert one("USER ${USER}:${GROUP:-staff}").user == "app:staff"
    assert one("STOPSIGNAL SIG${SIG:-TERM}").signal == "SIGTERM"
    assert one("VOLUME $HOME /data/$USER").paths == ("/root", "/data/app")
    assert one('VOLUME ["$TWO"]').paths == ("81 82",)  # one word per path, blanks kept


def test_from_image_and_platform() -> None:
    instr = one("FROM --platform=${PLAT:-linux/amd64} registry/$USER:$V AS build")
    assert (instr.image, instr.platform, instr.name) == ("registry/app:1.2", "linux/amd64", "build")


def test_expose_splits_words_then_checks_ports() -> None:
    instr = one('EXPOSE $PORT $TWO "${UDP:-53}/udp"')
    assert instr.ports == ("8080", "81", "82", "53/udp")
    assert exposed_ports(instr.ports) == ("8080/tcp", "81/tcp", "82/tcp", "53/udp")
    assert exposed_ports(("8000-8002", "8001/tcp")) == ("8000/tcp", "8001/tcp", "8002/tcp")


def test_expose_bad_port_after_expansion_names_the_line() -> None:
    df = parse("FROM x\n\nEXPOSE $PORT/tcpx\n")
    with pytest.raises(DockerfileError) as info:
        expanded(df.stages[0].instructions[0], ENV, filename="app/Dockerfile")
    assert str(info.value) == "app/Dockerfile:3: invalid proto: tcpx"


@pytest.mark.parametrize(
    "text",
    [
        'RUN echo "$HOME"',
        "RUN --mount=type=cache,id=$USER,target=/c echo $USER",
        'CMD ["echo", "$HOME"]',
        "ENTRYPOINT echo $HOME",
        'SHELL ["/bin/$USER"]',
        "HEALTHCHECK CMD test $HOME",
        "MAINTAINER $USER",
        "ONBUILD COPY $HOME /x",
    ],
)
def test_left_to_the_shell_or_the_child_build(text: str) -> None:
    instr = parse_instruction(text)
    assert expanded(instr, ENV) is instr


def test_run_heredocs_are_not_expanded() -> None:
    instr = one("RUN <<EOF\necho $HOME\nEOF")
    assert instr.heredocs[0].content == "echo $HOME\n"


def test_result_is_a_new_frozen_instance() -> None:
    original = parse_instruction("WORKDIR $HOME")
    result = expanded(original, ENV)
    assert original.path == "$HOME" and result.path == "/root"
    with pytest.raises(AttributeError):
        result.path = "x"  # type: ignore[misc]


def test_required_variable_error_names_file_and_line() -> None:
    df = parse("FROM x\nWORKDIR ${DIR:?set DIR}\n")
    with pytest.raises(DockerfileError) as info:
        expanded(df.stages[0].instructions[0], ENV)
    assert str(info.value) == 'Dockerfile:2: failed to process "${DIR:?set DIR}": DIR: set DIR'


def test_backtick_dockerfile_expands_with_backtick_escape() -> None:
    df = parse("# escape=`\nFROM x\nWORKDIR c:\\$USER\\`$HOME\n")
    assert expanded(df.stages[0].instructions[0], ENV).path == "c:\\app\\$HOME"
