"""Checks on instructions as written: keyword casing, stage names, MAINTAINER, the legacy
`ENV key value` form, EXPOSE protocols, empty continuation lines, description comments."""

from __future__ import annotations

from rootless_build.dockerfile.parser import Node
from rootless_build.dockerfile.words import split_whitespace
from rootless_build.lint.report import Reporter
from rootless_build.lint.source import empty_continuation_line

RESERVED_STAGE_NAMES = ("context", "scratch")


def _consistent(word: str) -> bool:
    return word in (word.lower(), word.upper())


def check_empty_continuation(report: Reporter, text: str, node: Node) -> None:
    line = empty_continuation_line(text, node)
    if line is not None:
        report.warn("NoEmptyContinuation", "Empty continuation line", line)


def check_from_words(report: Reporter, node: Node) -> None:
    """StageNameCasing and FromAsCasing on `FROM image AS Name`."""
    args = split_whitespace(node.rest)
    if len(args) != 3:
        return
    if args[2] != args[2].lower():
        report.warn("StageNameCasing", f"Stage name '{args[2]}' should be lowercase", node.line, node.end_line)
    keyword = node.keyword
    if not _consistent(keyword):
        return  # ConsistentInstructionCasing reports it
    wanted = args[1].lower() if keyword == keyword.lower() else args[1].upper()
    if args[1] != wanted:
        report.warn("FromAsCasing", f"'{args[1]}' and '{keyword}' keywords' casing do not match",
                    node.line, node.end_line)


def check_casing(report: Reporter, nodes: list[Node]) -> None:
    """ConsistentInstructionCasing over the stages' instructions (global ARGs do not count)."""
    lower = sum(1 for n in nodes if _consistent(n.keyword) and n.keyword == n.keyword.lower())
    upper = sum(1 for n in nodes if _consistent(n.keyword) and n.keyword != n.keyword.lower())
    majority_lower = lower > upper
    for node in nodes:
        name = node.keyword
        if majority_lower and name != name.lower():
            casing = "lowercase"
        elif not majority_lower and name != name.upper():
            casing = "uppercase"
        else:
            continue
        report.warn("ConsistentInstructionCasing",
                    f"Command '{name}' should match the case of the command majority ({casing})",
                    node.line, node.end_line)


def check_stage_names(report: Reporter, stages: list[tuple[str | None, Node]]) -> None:
    """ReservedStageName and DuplicateStageName, at the FROM that uses the name."""
    seen: set[str] = set()
    for name, node in stages:
        if name is None:
            continue
        if name in RESERVED_STAGE_NAMES:
            report.warn("ReservedStageName", f'Stage name should not use the same name as reserved stage "{name}"',
                        node.line, node.end_line)
        if name in seen:
            report.warn("DuplicateStageName", f'Duplicate stage name "{name}", stage names should be unique',
                        node.line, node.end_line)
        seen.add(name)


def check_maintainer(report: Reporter, node: Node) -> None:
    report.warn("MaintainerDeprecated", "Maintainer instruction is deprecated in favor of using label",
                node.line, node.end_line)


def check_legacy_key_value(report: Reporter, node: Node) -> None:
    """`ENV key value` / `LABEL key value`: the first word has no `=`."""
    words = split_whitespace(node.rest)
    if words and "=" not in words[0]:
        keyword = node.name.upper()
        report.warn("LegacyKeyValueFormat",
                    f'"{keyword} key=value" should be used instead of legacy "{keyword} key value" format',
                    node.line, node.end_line)


def check_expose(report: Reporter, ports: tuple[str, ...], node: Node) -> None:
    """ExposeProtoCasing and ExposeInvalidFormat on each (expanded) port spec."""
    for spec in ports:
        proto = spec.rpartition("/")[2] if "/" in spec else ""
        if proto != proto.lower():
            report.warn("ExposeProtoCasing",
                        f"Defined protocol '{spec}' in EXPOSE instruction should be lowercase", node.line,
                        node.end_line)
        if ":" in spec.partition("/")[0]:
            report.warn("ExposeInvalidFormat", "EXPOSE instruction should not define an IP address or "
                        f"host-port mapping, found '{spec}'", node.line, node.end_line)


def check_description(report: Reporter, keyword: str, names: list[str], comments: list[str], node: Node) -> None:
    """InvalidDefinitionDescription: the comment right above a named FROM or an ARG starts
    with the name it describes."""
    if not comments or not names:
        return
    if comments[-1].split(" ")[0] in names:
        return
    example = names[0] if len(names) == 1 else "<arg_key>"
    report.warn("InvalidDefinitionDescription",
                f"Comment for {keyword} should follow the format: `# {example} <description>`",
                node.line, node.end_line)
