"""Instructions that only change the image config: one small handler each.

Each computes its inputs (the expanded instruction), takes the cache when it can, else
applies the instruction to the config (the rules are oci.config's, shared with
`commit --change`) and commits an empty-layer history entry (`/bin/sh -c #(nop) ...`).
"""

from __future__ import annotations

from rootless_build.builder.history import nop
from rootless_build.oci import config as ic


def _metadata_step(step, instr, *, author: str | None = None, inputs=None) -> None:
    if step.use_cache(step.describe(instr) if inputs is None else inputs):
        return
    config = step.state.config
    config["config"] = ic.apply_instruction(ic.container(config), instr, cmd_set=step.state.cmd_set)
    if instr.keyword == "CMD":
        config["config"]["ArgsEscaped"] = True  # as BuildKit writes it (the classic builder does not)
    if author:
        config["author"] = author
    step.commit(nop(step.instruction.original), empty_layer=True, author=author)


def _expanded_step(step) -> None:
    _metadata_step(step, step.expanded())


handle_env = handle_label = handle_user = _expanded_step
handle_expose = handle_stopsignal = _expanded_step
# WORKDIR and VOLUME may create directories: handlers/workdir.py, handlers/volume.py


def handle_cmd(step) -> None:
    _metadata_step(step, step.instruction)
    step.state.cmd_set = True


def handle_entrypoint(step) -> None:
    instr = step.instruction
    inputs = {"entrypoint": step.describe(instr), "cmd_set": step.state.cmd_set}
    _metadata_step(step, instr, inputs=inputs)


def handle_shell(step) -> None:
    _metadata_step(step, step.instruction)


handle_healthcheck = handle_shell


def handle_onbuild(step) -> None:
    instr = step.instruction
    _metadata_step(step, instr, inputs={"onbuild": instr.expression, "original": instr.original})


def handle_maintainer(step) -> None:
    instr = step.instruction
    _metadata_step(step, instr, author=instr.name)


def handle_arg(step) -> None:
    instr = step.expanded()
    for definition in instr.args:
        step.state.args.declare(definition.name, definition.default)
    _metadata_step(step, instr)
