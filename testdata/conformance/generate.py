#!/usr/bin/env python3
"""Writes the conformance cases (testdata/conformance/<category>/<case>/) from the tables
in cases_*.py: each case a Dockerfile, an optional .dockerignore, a context/ tree and
case.json (see tests/conformance/conformance_cases.py for its fields).

Run it after editing a table: `python3 testdata/conformance/generate.py`; the generated
folders are committed so that a case can be read, and rebuilt by hand, on its own."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

if __name__ == "__main__":
    import cases_copy  # noqa: F401  (each table module calls case() at import)
    import cases_golden  # noqa: F401
    import cases_ignore  # noqa: F401
    import cases_meta  # noqa: F401
    import cases_run  # noqa: F401
    import cases_stages  # noqa: F401
    from casetable import write_all

    write_all()
