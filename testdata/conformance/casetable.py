"""The case table the cases_*.py modules fill and generate.py writes out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent


CASES: dict[tuple[str, str], dict] = {}


def case(category: str, name: str, dockerfile: str, files: dict[str, str] | None = None,
         ignore: str | None = None, **spec) -> None:
    """One case: `files` maps context paths to their text; `spec` goes to case.json."""
    key = (category, name)
    if key in CASES:
        raise SystemExit(f"duplicate case {category}/{name}")
    CASES[key] = {"dockerfile": dockerfile, "files": files or {}, "ignore": ignore, "spec": spec}


def write_all() -> None:
    for child in HERE.iterdir():
        if child.is_dir() and (child / ".generated").exists():
            shutil.rmtree(child)
    for (category, name), data in sorted(CASES.items()):
        directory = HERE / category / name
        directory.mkdir(parents=True)
        (HERE / category / ".generated").touch()
        (directory / "Dockerfile").write_text(data["dockerfile"])
        if data["ignore"] is not None:
            (directory / ".dockerignore").write_text(data["ignore"])
        for path, text in data["files"].items():
            target = directory / "context" / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        (directory / "case.json").write_text(json.dumps(data["spec"], indent=1, sort_keys=True) + "\n")
    print(f"{len(CASES)} cases in {len({c for c, _ in CASES})} categories")


