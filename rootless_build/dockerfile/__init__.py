"""Dockerfile parsing: text -> nodes (parser) -> typed instructions -> stages. Pure, no I/O.

    df = parse(text, "Dockerfile")            # Dockerfile(directives, escape, meta_args, stages)
    for stage in df.stages:
        for instr in stage.instructions:      # frozen records, dispatch on type or .keyword
            instr = expanded(instr, env)      # variables, only where docker expands them
"""

from rootless_build.dockerfile.base import Instruction
from rootless_build.dockerfile.copy_instructions import Add, Copy
from rootless_build.dockerfile.dockerfile import Dockerfile, Stage, parse, parse_instruction
from rootless_build.dockerfile.exec_instructions import Cmd, Entrypoint, Healthcheck, Run, Shell
from rootless_build.dockerfile.expand import ExpansionError, expand_heredoc, expand_word, expand_words
from rootless_build.dockerfile.expanded import expanded
from rootless_build.dockerfile.from_instruction import From
from rootless_build.dockerfile.heredoc import Heredoc
from rootless_build.dockerfile.instructions import Onbuild
from rootless_build.dockerfile.meta_instructions import (
    Arg,
    ArgDef,
    Env,
    Expose,
    KeyValue,
    Label,
    Maintainer,
    StopSignal,
    User,
    Volume,
    Workdir,
)
from rootless_build.dockerfile.mounts import Mount, MountError, parse_mount
from rootless_build.dockerfile.ports import PortError, exposed_ports
from rootless_build.dockerfile.serialize import to_json

__all__ = [
    "Add", "Arg", "ArgDef", "Cmd", "Copy", "Dockerfile", "Entrypoint", "Env", "ExpansionError",
    "Expose", "From", "Healthcheck", "Heredoc", "Instruction", "KeyValue", "Label", "Maintainer",
    "Mount", "MountError", "Onbuild", "PortError", "Run", "Shell", "Stage", "StopSignal", "User",
    "Volume", "Workdir", "expand_heredoc", "expand_word", "expand_words", "expanded",
    "exposed_ports", "parse", "parse_instruction", "parse_mount", "to_json",
]
