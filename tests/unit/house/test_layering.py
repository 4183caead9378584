"""The documented layering (HACKING.md), checked on every import of the package, lazy ones
included: a package imports only from floors below its own, and no modules import each
other in a circle."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "rootless_build"

# Floors, top to bottom. A package may import from any floor below its own, never from its
# own floor (another package there) or above.
FLOORS: list[set[str]] = [
    {"__main__"},
    {"cli"},
    {"builder", "containers"},
    {"registry", "archive", "sbom"},
    {"store", "sandbox", "lint", "sign"},
    {"oci"},
    {"dockerfile", "layers"},
    {"errors", "record", "__init__"},
]
FLOOR_OF = {name: depth for depth, names in enumerate(FLOORS) for name in names}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> Iterator[tuple[int, str]]:
    """(line, module) of every import in the file of a module among `modules`; `from pkg
    import sub` names the submodule, not the package's __init__."""
    tree = ast.parse(path.read_text(), str(path))
    here = _module_name(path).split(".")
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here if is_package else here[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            submodules = [f"{module}.{alias.name}" for alias in node.names]
            if all(sub in modules for sub in submodules):
                yield from ((node.lineno, sub) for sub in submodules)
            else:
                yield node.lineno, module


def _graph() -> dict[str, dict[str, int]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, dict[str, int]] = {}
    for name, path in files.items():
        edges: dict[str, int] = {}
        for line, target in _imports(path, set(files)):
            if target in files and target != name:
                edges.setdefault(target, line)
        graph[name] = edges
    return graph


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_package_has_a_floor() -> None:
    packages = {_package(m) for m in _graph()}
    assert packages <= FLOOR_OF.keys(), f"packages without a floor: {sorted(packages - FLOOR_OF.keys())}"


def test_imports_flow_down() -> None:
    graph = _graph()
    wrong = []
    for module, edges in sorted(graph.items()):
        mine = _package(module)
        for target, line in sorted(edges.items()):
            theirs = _package(target)
            if theirs != mine and FLOOR_OF.get(theirs, -1) <= FLOOR_OF.get(mine, -1):
                wrong.append(f"{module}:{line} imports {target} ({mine} may not import {theirs})")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles() -> None:
    graph = _graph()
    # Tarjan's strongly connected components; any with two or more modules is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("floor", range(len(FLOORS)))
def test_floors_are_disjoint(floor: int) -> None:
    for other in range(floor + 1, len(FLOORS)):
        assert not FLOORS[floor] & FLOORS[other]


def test_test_modules_have_unique_names() -> None:
    """pytest imports test modules by their base name (rootdir-relative packages are not
    used here): two files of one name make the whole run stop at collection."""
    tests = Path(__file__).resolve().parents[2]
    names: dict[str, list[str]] = {}
    for path in tests.rglob("*.py"):
        if path.name not in ("conftest.py", "__init__.py"):
            names.setdefault(path.name, []).append(str(path.relative_to(tests)))
    clashes = {name: paths for name, paths in names.items() if len(paths) > 1}
    assert not clashes, f"test modules with the same name: {clashes}"
