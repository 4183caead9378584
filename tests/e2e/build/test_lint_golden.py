"""Lint golden cases: testdata/lint/<Rule>/{bad,good}/ hold a Dockerfile (and maybe a
.dockerignore, a `build-args` file of KEY=VALUE lines) and `expected`, the exact output
of `build --check`: `Dockerfile:LINE: Rule: message` with BuildKit's line numbers and
messages (taken from BuildKit's dockerfile_check_test.go where it has the case).

`bad` triggers its rule, `good` is clean. The store holds busybox (FROM busybox) and an
image of another architecture (InvalidBaseImagePlatform), made with umoci and skopeo.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
CASES = REPO / "testdata" / "lint"
FOREIGN = "localhost/armimage:latest"


def _cases() -> list[Path]:
    return sorted(p for p in CASES.glob("*/*") if (p / "Dockerfile").is_file())


def _cli(root: Path, *args: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "rootless_build", "--root", str(root), *map(str, args)],
                          capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=120,
                          check=False)


@pytest.fixture(scope="module")
def lint_store(tmp_path_factory, busybox_tar) -> Path:
    if not shutil.which("umoci") or not shutil.which("skopeo"):
        pytest.skip("umoci and skopeo are needed to make a foreign-architecture image")
    work = tmp_path_factory.mktemp("lint")
    root = work / "store"
    proc = _cli(root, "import", busybox_tar, "busybox:latest")
    assert proc.returncode == 0, proc.stderr
    layout = work / "layout"
    tool("umoci", "init", "--layout", layout)
    tool("umoci", "new", "--image", f"{layout}:arm")
    tool("umoci", "config", "--image", f"{layout}:arm", "--os", "linux", "--architecture", "arm64")
    tool("skopeo", "copy", "-q", f"oci:{layout}:arm", f"oci-archive:{work / 'arm.tar'}:{FOREIGN}")
    proc = _cli(root, "load", "-i", work / "arm.tar")
    assert proc.returncode == 0, proc.stderr
    return root


def tool(*cmd: str | os.PathLike[str]) -> None:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))}: {proc.stderr}"


def _build_args(case: Path) -> list[str]:
    path = case / "build-args"
    lines = path.read_text().splitlines() if path.is_file() else []
    return [arg for line in lines if line for arg in ("--build-arg", line)]


@pytest.mark.parametrize("case", _cases(), ids=lambda p: f"{p.parent.name}-{p.name}")
def test_lint_case(case: Path, lint_store: Path) -> None:
    if case.parent.name == "InvalidBaseImagePlatform" and os.uname().machine != "x86_64":
        pytest.skip("the expected output names linux/amd64 as the build platform")
    proc = _cli(lint_store, "build", "--check", *_build_args(case), case)
    expected = (case / "expected").read_text()
    assert proc.stdout == expected, proc.stderr
    assert proc.returncode == (1 if expected else 0), proc.stderr
    rule = case.parent.name
    assert (f": {rule}: " in proc.stdout) == (case.name == "bad")
    assert "Traceback" not in proc.stderr
