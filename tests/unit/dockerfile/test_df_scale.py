"""Hostile sizes: the lexer is linear in its input, and nesting is iterative (issue 11)."""

from __future__ import annotations

import time

import pytest

from rootless_build.dockerfile import expand_word, expanded, parse
from rootless_build.errors import DockerfileError


def _parse_and_expand(text: str) -> float:
    start = time.perf_counter()
    df = parse(text)
    for instr in df.stages[0].instructions:
        expanded(instr, {})
    return time.perf_counter() - start


@pytest.mark.parametrize("line", ["RUN {}", "ENV A={}", "LABEL a={}", "COPY {} /dst"], ids=str.split)
def test_a_long_line_takes_linear_time(line: str) -> None:
    def timed(size: int) -> float:
        return min(_parse_and_expand("FROM busybox\n" + line.format("a" * size) + "\n") for _ in range(3))

    small, large = timed(1 << 18), timed(1 << 20)
    # linear: 4x the input in well under 8x the time (quadratic was 16x: 1 MiB took 13-36 s)
    assert large < 8 * small + 0.05, (small, large)
    assert large < 5.0, large  # generous bound for a loaded machine; ~0.02-0.5 s here


def test_two_thousand_nested_defaults_expand() -> None:
    word = "${X:-" * 2000 + "z" + "}" * 2000
    assert expand_word(word, {}) == "z"
    df = parse(f"FROM busybox\nENV A={word}\n")
    (env,) = df.stages[0].instructions
    assert expanded(env, {}).pairs[0].value == "z"


def test_absurd_nesting_is_a_one_line_error_with_file_and_line() -> None:
    word = "${X:-" * 50_000 + "z" + "}" * 50_000
    df = parse(f"FROM busybox\nENV A={word}\n", "Dockerfile.deep")
    (env,) = df.stages[0].instructions
    with pytest.raises(DockerfileError) as caught:
        expanded(env, {}, filename="Dockerfile.deep")
    message = str(caught.value)
    assert "\n" not in message and "nested more than 10000 deep" in message
    assert "Dockerfile.deep:2" in message


def test_unterminated_deep_nesting_is_a_one_line_error() -> None:
    with pytest.raises(DockerfileError) as caught:
        expanded(parse("FROM b\nWORKDIR " + "${X:-" * 3000 + "\n").stages[0].instructions[0], {})
    assert "missing '}'" in str(caught.value) and "\n" not in str(caught.value)
