"""A whole Dockerfile: directives, global ARGs and build stages."""

from __future__ import annotations

from rootless_build.dockerfile.base import Instruction
from rootless_build.dockerfile.directives import DEFAULT_ESCAPE
from rootless_build.dockerfile.from_instruction import From
from rootless_build.dockerfile.instructions import from_node
from rootless_build.dockerfile.meta_instructions import Arg
from rootless_build.dockerfile.parser import parse_text
from rootless_build.errors import DockerfileError
from rootless_build.record import Record, replace


class Stage(Record, frozen=True):
    index: int
    name: str | None  # the FROM's AS alias (lowercase), None if it has none
    from_: From
    instructions: tuple[Instruction, ...]  # after the FROM


class Dockerfile(Record, frozen=True):
    directives: dict[str, str]  # {"syntax": ..., "escape": ..., "check": ...} as given
    escape: str
    meta_args: tuple[Arg, ...]  # ARGs before the first FROM
    stages: tuple[Stage, ...]
    warnings: tuple[str, ...] = ()  # "Dockerfile:4: empty continuation line found in: ..."

    def stage(self, ref: str) -> Stage | None:
        """A stage by name (case-insensitive) or by index, as `--target` and `COPY --from` name them."""
        for stage in self.stages:
            if stage.name is not None and stage.name == ref.lower():
                return stage
        if ref.isdecimal() and int(ref) < len(self.stages):
            return self.stages[int(ref)]
        return None


def parse(text: str, filename: str = "Dockerfile") -> Dockerfile:
    """Parse a Dockerfile; every syntax problem raises DockerfileError("file:line: message")."""
    parsed = parse_text(text, filename)
    if not parsed.nodes:
        raise DockerfileError("file with no instructions", filename, None)
    meta_args: list[Arg] = []
    stages: list[tuple[From, list[Instruction]]] = []
    names: set[str] = set()
    for node in parsed.nodes:
        instruction = from_node(node, parsed.escape, filename)
        if isinstance(instruction, From):
            if instruction.name is not None:
                if instruction.name in names:
                    raise DockerfileError(f'duplicate stage name "{instruction.name}"', filename, node.line)
                names.add(instruction.name)
            stages.append((instruction, []))
        elif stages:
            stages[-1][1].append(instruction)
        elif isinstance(instruction, Arg):
            meta_args.append(instruction)
        else:
            raise DockerfileError("no build stage in current context", filename, node.line)
    if not stages:
        raise DockerfileError("dockerfile contains no stages to build", filename, None)
    return Dockerfile(
        directives=parsed.directives,
        escape=parsed.escape,
        meta_args=tuple(meta_args),
        stages=tuple(
            Stage(index, from_.name, from_, tuple(instructions))
            for index, (from_, instructions) in enumerate(stages)
        ),
        warnings=parsed.warnings,
    )


def parse_instruction(text: str, filename: str = "--change", escape: str = DEFAULT_ESCAPE) -> Instruction:
    """One instruction on its own (`commit --change 'CMD ["x"]'`, image ONBUILD triggers)."""
    if escape != DEFAULT_ESCAPE:
        text = f"# escape={escape}\n{text}"
    parsed = parse_text(text, filename)
    if len(parsed.nodes) != 1:
        count = len(parsed.nodes)
        raise DockerfileError(f"expected exactly one instruction, got {count}", filename, None)
    node = parsed.nodes[0]
    if escape != DEFAULT_ESCAPE:  # line numbers as the caller wrote them
        node = replace(node, line=node.line - 1, end_line=node.end_line - 1)
    return from_node(node, parsed.escape, filename)
