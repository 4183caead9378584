"""lint(text) -> LintResult: every rule over a Dockerfile, all stages (as `--check` does).

The text is parsed again here (nodes keep the keyword as written, which lint needs) and
stages are grouped without the parser's strictness, so that a Dockerfile the build would
refuse (a duplicate stage name) still gets its warnings.
"""

from __future__ import annotations

from rootless_build.dockerfile.base import Instruction
from rootless_build.dockerfile.from_instruction import From
from rootless_build.dockerfile.instructions import from_node
from rootless_build.dockerfile.meta_instructions import Arg
from rootless_build.dockerfile.parser import Node, parse_text
from rootless_build.errors import DockerfileError
from rootless_build.lint import checks_from, checks_text
from rootless_build.lint.checks_stage import StageChecker, StageState
from rootless_build.lint.config import (
    CheckConfig,
    CheckConfigError,
    parse_check,
)
from rootless_build.lint.env import expand_recording
from rootless_build.lint.facts import LintFacts
from rootless_build.lint.report import LintWarning, Reporter
from rootless_build.lint.source import comments_above
from rootless_build.record import Record


class LintResult(Record, frozen=True):
    warnings: tuple[LintWarning, ...]
    config: CheckConfig
    error: DockerfileError | None = None  # the Dockerfile does not parse (warnings are those before it)

    def failure(self) -> str | None:
        """BuildKit's message when `error=true` and a rule fired, else None."""
        if not self.config.error or not self.warnings:
            return None
        names = ", ".join(dict.fromkeys(w.rule for w in self.warnings))
        return f"lint violation found for rules: {names}"


def check_config(directive: str | None, filename: str, override: str | None = None) -> CheckConfig:
    """The file's `# check=` directive, or the override (--check-config / BUILDKIT_DOCKERFILE_CHECK)."""
    text = override if override is not None else directive
    try:
        return parse_check(text or "")
    except CheckConfigError as e:
        line = None if override is not None else 1
        raise DockerfileError(f"failed to parse check options: {e}", filename, line) from None


def lint(text: str, filename: str = "Dockerfile", facts: LintFacts | None = None,
         override: str | None = None) -> LintResult:
    facts = facts or LintFacts()
    parsed = parse_text(text, filename)
    config = check_config(parsed.directives.get("check"), filename, override)
    comments = comments_above(text, parsed.nodes, len(parsed.directives) + 1)
    report = Reporter(config, comments)
    error = None
    typed: list[tuple[Node, Instruction]] = []
    for node in parsed.nodes:
        checks_text.check_empty_continuation(report, text, node)
        try:
            typed.append((node, from_node(node, parsed.escape, filename)))
        except DockerfileError as e:
            error = e
            break
    _Walk(report, facts, filename, comments).run(typed)
    return LintResult(tuple(report.sorted()), config, error)


class _Walk:
    def __init__(self, report: Reporter, facts: LintFacts, filename: str, comments: dict[int, list[str]]) -> None:
        self.report = report
        self.facts = facts
        self.filename = filename
        self.comments = comments
        self.global_values = dict(facts.predefined)  # with --build-arg values
        self.global_defaults = dict(facts.predefined)  # defaults only (InvalidDefaultArgInFrom)
        self.declared: set[str] = set()
        self.states: dict[str, StageState] = {}  # stage name -> its state at its end
        self.checker = StageChecker(report, facts, self.global_values, filename)

    def run(self, typed: list[tuple[Node, Instruction]]) -> None:
        stage_nodes: list[Node] = []
        stages: list[tuple[str | None, Node]] = []
        state: StageState | None = None
        name: str | None = None
        for node, instruction in typed:
            self._node(node)
            if isinstance(instruction, From):
                self._finish(name, state)
                name, state = instruction.name, self._start(instruction, node)
                stages.append((name, node))
                stage_nodes.append(node)
            elif state is None:
                if isinstance(instruction, Arg):
                    self._global_arg(instruction, node)
            else:
                stage_nodes.append(node)
                if isinstance(instruction, Arg):
                    self._describe("ARG", [d.name for d in instruction.args], node)
                self.checker.check(state, instruction, node)
        checks_text.check_stage_names(self.report, stages)
        checks_text.check_casing(self.report, stage_nodes)

    def _node(self, node: Node) -> None:
        if node.name == "maintainer":
            checks_text.check_maintainer(self.report, node)
        elif node.name in ("env", "label"):
            checks_text.check_legacy_key_value(self.report, node)
        elif node.name == "from":
            checks_text.check_from_words(self.report, node)

    def _describe(self, keyword: str, names: list[str], node: Node) -> None:
        checks_text.check_description(self.report, keyword, names, self.comments.get(node.line, []), node)

    def _global_arg(self, arg: Arg, node: Node) -> None:
        self._describe("ARG", [d.name for d in arg.args], node)
        for definition in arg.args:
            self.checker.build_arg_secret(definition.name, arg)
            self.declared.add(definition.name)
            default = None
            if definition.default is not None:
                default, _ = expand_recording(definition.default, self.global_defaults, arg.escape)
                if default is not None:
                    self.global_defaults[definition.name] = default
            value = self.facts.build_args.get(definition.name)
            if value is None and definition.default is not None:
                value, _ = expand_recording(definition.default, self.global_values, arg.escape)
            if value is not None:
                self.global_values[definition.name] = value

    def _finish(self, name: str | None, state: StageState | None) -> None:
        if name is not None and state is not None:
            self.states[name] = state

    def _start(self, from_: From, node: Node) -> StageState:
        if from_.name is not None:
            self._describe("FROM", [from_.name], node)
        checks_from.check_from_args(self.report, from_, self.global_values, self.declared)
        checks_from.check_default_base(self.report, from_, self.global_defaults)
        image, _ = expand_recording(from_.image, self.global_values, from_.escape)
        if image is None:
            return StageState(None)
        parent = self.states.get(image.lower())
        if parent is not None:
            return parent.child()
        if image == "scratch":
            return StageState({})
        base = self.facts.base_image(image) if self.facts.base_image else None
        if base is None:
            return StageState(None)
        if self.facts.target_platform and not from_.platform:
            checks_from.check_base_platform(self.report, from_, image, base.platform, self.facts.target_platform)
        return StageState(dict(base.env), shell=base.has_shell)
