"""Expansion that records which variables a word looked up (BuildKit's matched/unmatched)."""

from __future__ import annotations

from typing import Any

from rootless_build.dockerfile.base import Instruction
from rootless_build.dockerfile.expand import ExpansionError, expand_word
from rootless_build.dockerfile.expanded import expanded
from rootless_build.errors import DockerfileError


class RecordingEnv(dict):
    """A dict for the lexer (it only calls .get) that notes each name it was asked for."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.matched: dict[str, None] = {}
        self.unmatched: dict[str, None] = {}

    def get(self, name: Any, default: Any = None, /) -> Any:  # (dict.get's own signature)
        if name in self:
            self.matched[name] = None
            return self[name]
        self.unmatched[name] = None
        return default


def expand_recording(word: str, values: dict[str, str], escape: str) -> tuple[str | None, RecordingEnv]:
    """(the expanded word or None if it cannot be expanded, what it looked up)."""
    env = RecordingEnv(values)
    try:
        return expand_word(word, env, escape), env
    except ExpansionError:
        return None, env


def expand_instruction(instruction: Instruction, values: dict[str, str],
                       filename: str) -> tuple[Instruction | None, RecordingEnv]:
    """The instruction expanded where docker expands it, and the names it looked up."""
    env = RecordingEnv(values)
    try:
        return expanded(instruction, env, filename=filename), env
    except (ExpansionError, DockerfileError):
        return None, env
