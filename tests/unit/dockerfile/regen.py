"""Rewrite expected.json / error.txt for the named golden cases (all when none are named).

    python tests/unit/dockerfile/regen.py [case-name ...]

Check every rewritten file by eye: the golden files are the specification.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from test_df_golden import CASES, NEGATIVE, render_case, render_error


def main(names: list[str]) -> None:
    for case in CASES:
        if not names or case.name in names:
            (case / "expected.json").write_text(render_case(case), encoding="utf-8")
            print("wrote", case / "expected.json")
    for case in NEGATIVE:
        if not names or case.name in names:
            (case / "error.txt").write_text(render_error(case), encoding="utf-8")
            print("wrote", case / "error.txt")


if __name__ == "__main__":
    main(sys.argv[1:])
