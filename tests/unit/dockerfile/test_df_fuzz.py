"""Random token soup: the parser and expander fail only with one-line errors of the tree."""

from __future__ import annotations

import random

from rootless_build.dockerfile import expanded, parse, parse_mount
from rootless_build.errors import RootlessBuildError

TOKENS = [
    "FROM", "RUN", "COPY", "ADD", "ENV", "ARG", "LABEL", "ONBUILD", "HEALTHCHECK", "CMD",
    "EXPOSE", "VOLUME", "USER", "WORKDIR", "SHELL", "STOPSIGNAL", "MAINTAINER", "ENTRYPOINT",
    "busybox", "AS", "x", "--from=a", "--link", "--mount=type=cache,target=/x", "--interval=1s",
    "NONE", "<<EOF", "<<-EOF", "<<'E'", "EOF", "E", "\\", "`", "\n", "\n", "\n", " ", "\t", "#",
    "# escape=`", "[", "]", '"', "'", "$", "${", "}", "${A:-b}", "=", "A=1", '["a"]', "80/tcp",
    "-", "--", "\r\n", "\ufeff", "a b", "*", "${A#*}", "${A/x/y}", "3<<X", "X",
]


def test_random_input_fails_cleanly() -> None:
    rng = random.Random(20240601)
    parsed = failed = 0
    for _ in range(3000):
        soup = "".join(rng.choice(TOKENS) + rng.choice(["", " "]) for _ in range(rng.randint(1, 30)))
        # mostly behind a valid first stage, so that the instruction parsers get to work
        text = rng.choice(["", "FROM busybox\n", "FROM busybox\n", "FROM busybox\nRUN "]) + soup
        try:
            df = parse(text)
            for stage in df.stages:
                expanded(stage.from_, {"A": "v a"})
                for instr in stage.instructions:
                    expanded(instr, {"A": "v a"})
                    for spec in getattr(instr, "mounts", ()):
                        try:
                            parse_mount(spec, {})
                        except RootlessBuildError as e:
                            assert "\n" not in str(e)
            parsed += 1
        except RootlessBuildError as e:
            assert "\n" not in str(e), repr(str(e))
            failed += 1
    assert parsed > 300 and failed > 300, (parsed, failed)  # the soup exercises both paths
