#!/usr/bin/env python3
"""mypy against a committed baseline that may only shrink.

    scripts/mypy-ratchet.py            fail on any error not in the baseline, and on baseline
                                       entries that no longer occur (shrink it: --update)
    scripts/mypy-ratchet.py --update   rewrite the baseline from today's errors

An error is keyed by file, error code and message, without its line number, so that
editing a file does not churn the baseline. The strict packages (pyproject.toml) must
have no entry at all.
"""

from __future__ import annotations

import collections
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "scripts" / "mypy-baseline.txt"
STRICT = ("rootless_build/oci/", "rootless_build/store/", "rootless_build/layers/", "rootless_build/dockerfile/")
_LINE = re.compile(r"^(?P<file>[^:]+):\d+(?::\d+)?: error: (?P<message>.*?)(?:  \[(?P<code>[\w-]+)\])?$")


def current() -> collections.Counter[str]:
    proc = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary", "--hide-error-context",
                           "--no-pretty", "--show-absolute-path"], cwd=REPO, capture_output=True, text=True)
    if proc.returncode not in (0, 1) or "error: " not in proc.stdout and proc.returncode == 1 and proc.stderr:
        sys.exit(f"mypy-ratchet: mypy failed to run: {proc.stderr.strip() or proc.stdout.strip()}")
    errors: collections.Counter[str] = collections.Counter()
    for line in proc.stdout.splitlines():
        match = _LINE.match(line)
        if match:
            file = str(Path(match["file"]).resolve().relative_to(REPO))
            errors[f"{file}: [{match['code'] or 'misc'}] {match['message']}"] += 1
    return errors


def main() -> int:
    errors = current()
    if sys.argv[1:] == ["--update"]:
        BASELINE.write_text("".join(f"{key}\n" for key in sorted(errors.elements())))
        print(f"mypy-ratchet: baseline has {sum(errors.values())} errors")
        return 0
    baseline = collections.Counter(BASELINE.read_text().splitlines()) if BASELINE.exists() else collections.Counter()
    new = errors - baseline
    gone = baseline - errors
    strict = [key for key in errors if key.startswith(STRICT)]
    for key in sorted(new.elements()):
        print(f"new mypy error: {key}")
    for key in sorted(strict):
        print(f"strict package not clean: {key}")
    if gone:
        print(f"mypy-ratchet: {sum(gone.values())} baseline entries no longer occur: run "
              "scripts/mypy-ratchet.py --update to shrink the baseline")
    if new or gone or strict:
        return 1
    print(f"mypy-ratchet: no new errors ({sum(errors.values())} in the baseline)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
