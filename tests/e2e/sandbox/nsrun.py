"""Outer helpers of the sandbox tests: run code as root of a real user namespace (through
rootless_build.sandbox.userns.run_unshare) and read back what it emit()ted."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
RESULT_MARK = "@@RESULT@@ "
LAUNCH = ("import sys; from rootless_build.sandbox.userns import run_unshare; "
          "sys.exit(run_unshare(sys.argv[1:]))")
PRELUDE = "import json, os, sys, time\nfrom pathlib import Path\nfrom nshelp import *\nARGS = sys.argv[1:]\n"
DRIVERS = ["overlay", "fuse-overlayfs", "vfs"]
_counter = itertools.count()


def ns_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(HERE)])
    return env


def ns_command(*argv: str | os.PathLike) -> list[str]:
    """The command line that runs argv as root of a new user namespace."""
    return [sys.executable, "-c", LAUNCH, *map(str, argv)]


def write_script(directory: Path, code: str) -> Path:
    script = directory / f"inner-{os.getpid()}-{next(_counter)}.py"
    script.write_text(PRELUDE + textwrap.dedent(code))
    return script


def parse_result(stdout: str):
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK):])
    return None


def remove_in_ns(path: Path) -> None:
    subprocess.run(ns_command("rm", "-rf", path), env=ns_env(), check=False, timeout=120,
                   capture_output=True)


def missing_prerequisite(reason: str) -> None:
    """Skip on a developer's machine, fail under CI: the machine set-up is incomplete."""
    if os.environ.get("CI"):
        pytest.fail(f"machine set-up incomplete: {reason}", pytrace=False)
    pytest.skip(reason)
