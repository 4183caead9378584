"""Checks that follow a stage's state instruction by instruction: UndefinedVar,
SecretsUsedInArgOrEnv, JSONArgsRecommended, MultipleInstructionsDisallowed,
WorkdirRelativePath, CopyIgnoredFile, and our SecretsInBuildArgOrLayer and AptInstallHygiene."""

from __future__ import annotations

from rootless_build.dockerfile.base import Instruction
from rootless_build.dockerfile.copy_instructions import Add, Copy
from rootless_build.dockerfile.exec_instructions import (
    Cmd,
    Entrypoint,
    Healthcheck,
    Run,
    Shell,
)
from rootless_build.dockerfile.meta_instructions import Arg, Env, Expose, Workdir
from rootless_build.dockerfile.parser import Node
from rootless_build.lint.apt import apt_problems
from rootless_build.lint.checks_text import check_expose
from rootless_build.lint.env import expand_instruction, expand_recording
from rootless_build.lint.facts import LintFacts
from rootless_build.lint.report import Reporter
from rootless_build.lint.secrets import is_secret_file, is_secret_name
from rootless_build.lint.suggest import closest

_ONCE = (Cmd, Entrypoint, Healthcheck)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class StageState:
    """What a stage has set so far; a stage built FROM another starts from its end state."""

    def __init__(self, env: dict[str, str] | None, shell: bool = False, workdir_set: bool = False) -> None:
        self.env_known = env is not None
        # names expansion finds: image env (PATH always: BuildKit sets a default), ARGs with values, ENV
        self.env: dict[str, str] = {"PATH": DEFAULT_PATH, **env} if env is not None else {}
        self.args: set[str] = set()  # every ARG declared in the stage, valued or not
        self.shell = shell
        self.workdir_set = workdir_set
        self.last: dict[type, Instruction] = {}

    def child(self) -> StageState:
        """A stage FROM this one sees its env, ARG values included (BuildKit keeps them in the
        state's env), its SHELL and its WORKDIR; CMD and friends count afresh."""
        return StageState(self.env if self.env_known else None, self.shell, self.workdir_set)


class StageChecker:
    def __init__(self, report: Reporter, facts: LintFacts, global_values: dict[str, str], filename: str) -> None:
        self.report = report
        self.facts = facts
        self.global_values = global_values
        self.filename = filename

    def check(self, state: StageState, instruction: Instruction, node: Node) -> None:
        if isinstance(instruction, Arg):
            self._arg(state, instruction)
            return
        result, env = expand_instruction(instruction, state.env, self.filename)
        self._undefined(state, instruction, env.unmatched)
        current = result or instruction
        if isinstance(current, _ONCE):
            self._once(state, current, node)
        if isinstance(current, (Cmd, Entrypoint)) and current.shell_form and not state.shell:
            self.report.warn("JSONArgsRecommended", f"JSON arguments recommended for {node.keyword} to prevent "
                             "unintended behavior related to OS signals", node.line, node.end_line)
        elif isinstance(current, Shell):
            state.shell = True
        elif isinstance(current, Env):
            for pair in current.pairs:
                self._secret_key("ENV", pair.key, current)
                state.env[pair.key] = pair.value
        elif isinstance(current, Workdir):
            if not state.workdir_set and not current.path.startswith("/"):
                self.report.warn("WorkdirRelativePath", f'Relative workdir "{current.path}" can have unexpected '
                                 "results if the base image changes", current.line, current.end_line)
            state.workdir_set = True
        elif isinstance(current, Expose):
            check_expose(self.report, current.ports, node)
        elif isinstance(current, (Copy, Add)):
            self._copy(current, node)
        elif isinstance(current, Run):
            for problem in apt_problems(current):
                self.report.warn("AptInstallHygiene", problem, current.line, current.end_line)

    def _undefined(self, state: StageState, instruction: Instruction, unmatched: dict[str, None]) -> None:
        if not state.env_known:
            return
        for name in unmatched:
            if name in state.args:
                continue
            hint = closest(name, state.env)
            message = f"Usage of undefined variable '${name}'" + (f" (did you mean ${hint}?)" if hint else "")
            self.report.warn("UndefinedVar", message, instruction.line, instruction.end_line)

    def _arg(self, state: StageState, arg: Arg) -> None:
        for definition in arg.args:
            name = definition.name
            self._secret_key("ARG", name, arg)
            self.build_arg_secret(name, arg)
            value: str | None = None
            if name in self.facts.build_args:
                value = self.facts.build_args[name]
            elif definition.default is not None:
                value, env = expand_recording(definition.default, state.env, arg.escape)
                self._undefined(state, arg, env.unmatched)
            elif name in self.global_values:
                value = self.global_values[name]
            state.args.add(name)
            if value is not None:
                state.env[name] = value

    def _secret_key(self, keyword: str, key: str, instruction: Instruction) -> None:
        if is_secret_name(key):
            self.report.warn("SecretsUsedInArgOrEnv", f"Do not use ARG or ENV instructions for sensitive data "
                             f'({keyword} "{key}")', instruction.line, instruction.end_line)

    def build_arg_secret(self, name: str, arg: Arg) -> None:
        """Ours: a --build-arg with a secret's name that an ARG takes in lands in the history."""
        if name in self.facts.build_args and is_secret_name(name):
            self.report.warn("SecretsInBuildArgOrLayer", f'Build argument "{name}" looks like a secret and is '
                             "recorded in the image history; pass it with --secret id=NAME,env=VAR and "
                             "RUN --mount=type=secret", arg.line, arg.end_line)

    def _once(self, state: StageState, instruction: Instruction, node: Node) -> None:
        kind = type(instruction)
        previous = state.last.get(kind)
        if previous is not None:
            self.report.warn("MultipleInstructionsDisallowed", f"Multiple {node.keyword} instructions should not "
                             "be used in the same stage because only the last one will be used",
                             previous.line, previous.end_line)
        state.last[kind] = instruction

    def _copy(self, instruction: Copy | Add, node: Node) -> None:
        if isinstance(instruction, Copy) and instruction.from_ is not None:
            return
        what = "Copy" if isinstance(instruction, Copy) else "Add"
        for source in instruction.sources:
            if isinstance(instruction, Add) and _is_remote(source):
                continue
            self._ignored(what, source, instruction)
            if is_secret_file(source):
                self.report.warn("SecretsInBuildArgOrLayer", f'{node.keyword} of "{source}" puts a secret-like '
                                 "file in a layer (it stays there even if a later step deletes it); use "
                                 "RUN --mount=type=secret", instruction.line, instruction.end_line)

    def _ignored(self, what: str, source: str, instruction: Instruction) -> None:
        ignored = self.facts.ignored
        if ignored is None:
            return
        path = _clean(source)
        if path in (".", "/"):
            hit = self.facts.ignores_root
        else:
            hit = ignored(path.lstrip("/"))
        if hit:
            self.report.warn("CopyIgnoredFile", f'Attempting to {what} file "{path}" that is excluded by '
                             ".dockerignore", instruction.line, instruction.end_line)


def _is_remote(source: str) -> bool:
    return source.startswith(("http://", "https://", "git@", "git://", "ssh://"))


def _clean(path: str) -> str:
    """Go's filepath.Clean for slash paths."""
    import posixpath

    cleaned = posixpath.normpath(path) if path else "."
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned
