"""Handlers see the build through `step.ctx` (builder/step.py's StepContext), never the
Builder: no handler module may read `.build` or `._build` off anything (a step, or a name
bound to one), and StepContext offers only what handlers use."""

from __future__ import annotations

import ast
from pathlib import Path

from rootless_build.builder.step import StepContext

HANDLERS = Path(__file__).resolve().parents[3] / "rootless_build" / "builder" / "handlers"
FORBIDDEN = {"build", "_build"}


def _reaches(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    return [f"{path.name}:{node.lineno}: .{node.attr}" for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN]


def test_no_handler_reaches_the_builder() -> None:
    modules = sorted(HANDLERS.glob("*.py"))
    assert len(modules) > 3, f"no handler modules under {HANDLERS}"
    found = [hit for path in modules for hit in _reaches(path)]
    assert not found, "handlers must use step.ctx, not the Builder: " + ", ".join(found)


def test_the_check_sees_a_reach(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def handle(step):\n    s = step\n    return s.build.options\n")
    assert _reaches(bad) == ["bad.py:3: .build"]


def test_step_context_stays_narrow() -> None:
    public = {name for name in vars(StepContext) if not name.startswith("_")}
    assert public == {"options", "build_args", "layer_epoch", "layer_epoch_ns", "progress",
                      "build_context", "source_image", "source_tree"}
