"""The Go text/template subset docker's --format understands, over plain dicts and lists.

Actions: {{.A.B}}, {{.}}, {{$}}, {{$v.A}}, literals, pipelines (`.X | json`), parentheses,
{{if}}/{{else if}}/{{else}}/{{end}}, {{range [$k, $v :=] X}}, {{with X}}, {{/* comment */}}
and the {{- -}} trim markers. Functions: docker's (json, join, split, upper, lower, title,
truncate, pad) and Go's (index, len, print, printf, println, eq, ne, lt, le, gt, ge, not,
and, or). A format starting with `table` prints a header row first and aligns the cells
as docker's tabwriter does (minimum width 10, padding 3).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from rootless_build.cli.gofuncs import FUNCS, HEADER_PASSTHROUGH, TemplateError, go_string, go_type, truth

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(r"""\s*(?:
    (?P<str>"(?:[^"\\]|\\.)*"|`[^`]*`) |
    (?P<num>-?\d+(?:\.\d+)?) |
    (?P<var>\$\w*(?:\.\w+)*) |
    (?P<field>(?:\.\w+)+|\.) |
    (?P<assign>:?=) |
    (?P<punct>[|(),]) |
    (?P<ident>[A-Za-z_]\w*)
)""", re.X)

# -- parsing -----------------------------------------------------------------------------

@dataclass
class _Block:
    kind: str                       # "root", "if", "range", "with"
    pipe: list | None = None
    variables: list[str] = field(default_factory=list)
    body: list = field(default_factory=list)
    otherwise: list = field(default_factory=list)
    in_else: bool = False
    chained: bool = False           # an {{else if}}: closed by the {{end}} of its first if

    def add(self, node) -> None:
        (self.otherwise if self.in_else else self.body).append(node)


def parse(template: str) -> list:
    template = template.replace("\\n", "\n").replace("\\t", "\t")
    root = _Block("root")
    stack = [root]
    pos = 0
    pieces = list(_ACTION.finditer(template))
    for n, m in enumerate(pieces):
        text = template[pos:m.start()]
        if m.group(1):
            text = text.rstrip()
        if n and pieces[n - 1].group(3):
            text = text.lstrip()
        if text:
            stack[-1].add(text)
        pos = m.end()
        _action(m.group(2).strip(), stack, m.group(0))
    tail = template[pos:]
    if "{{" in tail:        # Go refuses an action that is never closed
        line = template.count("\n", 0, pos + tail.index("{{")) + 1
        raise TemplateError(f"template parsing error: template: :{line}: unclosed action")
    if pieces and pieces[-1].group(3):
        tail = tail.lstrip()
    if tail:
        stack[-1].add(tail)
    if len(stack) > 1:
        raise TemplateError(f"template: unexpected EOF: {{{{{stack[-1].kind}}}}} has no {{{{end}}}}")
    return root.body


def _action(body: str, stack: list[_Block], raw: str) -> None:
    if body.startswith("/*"):
        return
    word = body.split(None, 1)[0] if body else ""
    rest = body[len(word):].strip()
    if word == "end":
        if len(stack) == 1:
            raise TemplateError(f"template: unexpected {raw}")
        while stack.pop().chained:
            pass
    elif word == "else":
        if len(stack) == 1 or stack[-1].in_else:
            raise TemplateError(f"template: unexpected {raw}")
        stack[-1].in_else = True
        if rest.startswith("if "):          # {{else if X}}: an if nested in the else branch
            inner = _Block("if", _pipeline(_tokens(rest[3:], raw), raw), chained=True)
            stack[-1].add(inner)
            stack.append(inner)
    elif word in ("if", "range", "with"):
        tokens = _tokens(rest, raw)
        variables = []
        if any(t == ("assign", ":=") for t in tokens):
            split = tokens.index(("assign", ":="))
            variables = [v for kind, v in tokens[:split] if kind == "var"]
            tokens = tokens[split + 1:]
        block = _Block(word, _pipeline(tokens, raw), variables)
        stack[-1].add(block)
        stack.append(block)
    else:
        tokens = _tokens(body, raw)
        if len(tokens) > 2 and tokens[0][0] == "var" and tokens[1][0] == "assign":
            stack[-1].add(("set", tokens[0][1], _pipeline(tokens[2:], raw)))
        else:
            stack[-1].add(("print", _pipeline(tokens, raw)))


def _tokens(text: str, raw: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise TemplateError(f"template: bad syntax in {raw}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    if not out:
        raise TemplateError(f"template: missing value in {raw}")
    return out


def _pipeline(tokens: list, raw: str) -> list:
    """[command, ...]; a command is a list of operands; the value flows into the next."""
    commands: list[list] = []
    current: list = []
    group: list = []
    depth = 0
    for tok in tokens:
        if depth:
            if tok == ("punct", "("):
                depth += 1
            elif tok == ("punct", ")"):
                depth -= 1
                if depth == 0:
                    current.append(("pipe", _pipeline(group, raw)))
                    group = []
                    continue
            group.append(tok)
        elif tok == ("punct", "("):
            depth = 1
        elif tok == ("punct", "|"):
            if not current:
                raise TemplateError(f"template: missing command in {raw}")
            commands.append(current)
            current = []
        elif tok[0] in ("punct", "assign"):
            raise TemplateError(f"template: unexpected {tok[1]!r} in {raw}")
        else:
            current.append(tok)
    if depth or not current:
        raise TemplateError(f"template: unclosed or empty pipeline in {raw}")
    commands.append(current)
    return commands


# -- execution ---------------------------------------------------------------------------

class Template:
    """A template parsed once, before anything is listed: a broken one fails with one line
    even when there is nothing to list (Go parses it first too)."""

    def __init__(self, text: str):
        self.nodes = parse(text)

    def render(self, data) -> str:
        return "".join(_run(self.nodes, data, {"$": data}))


def compile_template(text: str) -> Template:
    return Template(text)


def render(template: str, data) -> str:
    """One execution of the template over `data`."""
    return Template(template).render(data)


render_template = render


def render_table(template: str, rows: list, headers: dict[str, str]) -> str:
    """A `table ...` format: the header line (each {{.Field}} replaced by its header), then
    one line per row, the tab-separated cells aligned; "" when it is not a table format."""
    body = template[len("table"):].strip() if template.startswith("table") else template
    nodes = parse(body)
    header_data = _HeaderData(headers)
    lines = ["".join(_run(nodes, header_data, {"$": header_data}, header=True))]
    lines += ["".join(_run(nodes, row, {"$": row})) for row in rows]
    return tabwriter("\n".join(lines))


def format_rows(template: str, rows: list, headers: dict[str, str]) -> str:
    """A listing's --format: `table TEMPLATE` (header and aligned cells) or one line per row."""
    if is_table(template):
        return render_table(template, rows, headers)
    parsed = Template(template)
    return "\n".join(parsed.render(row) for row in rows)


def is_table(template: str) -> bool:
    return template == "table" or template.startswith(("table ", "table\t"))


class _HeaderData(dict):
    """Any field names its header: docker's name for it, or its own name in capitals."""

    def __init__(self, headers: dict[str, str]):
        super().__init__()
        self.headers = headers

    def lookup(self, name: str) -> str:
        return self.headers.get(name, name.upper())


def tabwriter(text: str, minwidth: int = 10, padding: int = 3) -> str:
    """Go's text/tabwriter as docker sets it up: cells end with a tab; each column as wide
    as its widest cell plus padding, at least minwidth; the last cell of a line is free."""
    lines = [line.split("\t") for line in text.split("\n")]
    widths: dict[int, int] = {}
    for cells in lines:
        for i, cell in enumerate(cells[:-1]):
            widths[i] = max(widths.get(i, 0), max(len(cell) + padding, minwidth))
    return "\n".join("".join(c.ljust(widths[i]) for i, c in enumerate(cells[:-1])) + cells[-1]
                     for cells in lines)


def _run(nodes: list, dot, scope: dict, header: bool = False) -> list[str]:
    out: list[str] = []
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, tuple) and node[0] == "set":
            scope[node[1]] = _pipe(node[2], dot, scope, header)
        elif isinstance(node, tuple):
            out.append(go_string(_pipe(node[1], dot, scope, header), node[1]))
        elif node.kind == "if":
            value = _pipe(node.pipe, dot, scope, header)
            out += _run(node.body if truth(value) else node.otherwise, dot, scope, header)
        elif node.kind == "with":
            value = _pipe(node.pipe, dot, scope, header)
            if truth(value):
                out += _run(node.body, value, {**scope, **dict.fromkeys(node.variables, value)}, header)
            else:
                out += _run(node.otherwise, dot, scope, header)
        else:  # range
            value = _pipe(node.pipe, dot, scope, header)
            items = sorted(value.items()) if isinstance(value, dict) else \
                list(enumerate(value)) if isinstance(value, (list, tuple)) else \
                list(enumerate(range(value))) if isinstance(value, int) and not isinstance(value, bool) else None
            if items is None and value is not None:
                raise TemplateError(f"template: range can't iterate over {go_string(value)}")
            if not items:
                out += _run(node.otherwise, dot, scope, header)
            for key, item in items or []:
                inner = dict(scope)
                if len(node.variables) == 1:
                    inner[node.variables[0]] = item
                elif len(node.variables) >= 2:
                    inner[node.variables[0]], inner[node.variables[1]] = key, item
                out += _run(node.body, item, inner, header)
    return out


def _pipe(commands: list, dot, scope: dict, header: bool):
    value, have = None, False
    for command in commands:
        args = [_operand(tok, dot, scope, header) for tok in command[1:]]
        if have:
            args.append(value)
        head = command[0]
        if head[0] == "ident" and head[1] not in ("true", "false", "nil"):
            value = _call(head[1], args, header)
        elif args:
            raise TemplateError(f"template: can't give argument to non-function {head[1]}")
        else:
            value = _operand(head, dot, scope, header)
        have = True
    return value


def _operand(tok, dot, scope: dict, header: bool):
    kind, text = tok
    if kind == "str":
        return json.loads(text) if text.startswith('"') else text[1:-1]
    if kind == "num":
        return float(text) if "." in text else int(text)
    if kind == "field":
        return _lookup(dot, text)
    if kind == "var":
        name, _, path = text.partition(".")
        if name not in scope:
            raise TemplateError(f"template: undefined variable: {name}")
        return _lookup(scope[name], "." + path) if path else scope[name]
    if kind == "pipe":
        return _pipe(text, dot, scope, header)
    if kind == "ident":
        return {"true": True, "false": False, "nil": None}.get(text) if text in ("true", "false", "nil") \
            else _call(text, [], header)
    raise TemplateError(f"template: unexpected {text}")


def _lookup(value, path: str):
    for part in [p for p in path.split(".") if p]:
        if isinstance(value, _HeaderData):
            return value.lookup(part)
        if not isinstance(value, dict):
            raise TemplateError(f"template: can't evaluate field {part} in type {go_type(value)}")
        key = part if part in value else next((k for k in value if k.lower() == part.lower()), None)
        if key is None:
            raise TemplateError(f"template: can't evaluate field {part}: no such field")
        value = value[key]
    return value


def _call(name: str, args: list, header: bool):
    func = FUNCS.get(name)
    if func is None:
        raise TemplateError(f'template: function "{name}" not defined')
    if header and name in HEADER_PASSTHROUGH:
        return args[0] if args else ""
    try:
        return func(*args)
    except TemplateError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as e:
        raise TemplateError(f"template: error calling {name}: {e}") from None
