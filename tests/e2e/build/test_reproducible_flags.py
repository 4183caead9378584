"""Reproducibility: the build's date is part of every step's cache key, the
SOURCE_DATE_EPOCH build arg is consumed as BuildKit consumes it, and buildah's
--source-date-epoch / --timestamp / --rewrite-timestamp give the same image in any store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.rootless

DOCKERFILE = """\
FROM localhost:5000/busybox:latest
COPY a.txt /a.txt
RUN echo built > /built
WORKDIR /app
"""
EPOCH = "1000000000"


@pytest.fixture
def context(tmp_path: Path) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "a.txt").write_text("a\n")
    return ctx


def _fresh_store(tmp_path: Path, busybox_tar: Path, name: str):
    root = tmp_path / name
    root.mkdir()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "rootless_build", "--root", str(root), *args],
                              capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)

    assert run("import", str(busybox_tar), "localhost:5000/busybox:latest").returncode == 0
    return run


def _build(run, context: Path, *flags: str) -> str:
    proc = run("build", "-q", *flags, str(context))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("flags", [
    ("--build-arg", f"SOURCE_DATE_EPOCH={EPOCH}"),
    ("--source-date-epoch", EPOCH),
    ("--source-date-epoch", EPOCH, "--rewrite-timestamp"),
    ("--timestamp", EPOCH),
], ids=["build-arg", "source-date-epoch", "rewrite-timestamp", "timestamp"])
def test_dated_build_after_an_undated_one_equals_a_fresh_one(flags, context, tmp_path, busybox_tar):
    warm = _fresh_store(tmp_path, busybox_tar, "warm")
    undated = _build(warm, context)
    after_cache = _build(warm, context, *flags)
    fresh = _build(_fresh_store(tmp_path, busybox_tar, "fresh"), context, *flags)
    assert after_cache == fresh != undated
    # and the dated build is itself cached now: the same again is the same image
    assert _build(warm, context, *flags) == fresh


def test_source_date_epoch_build_arg_is_consumed(context, tmp_path, busybox_tar):
    run = _fresh_store(tmp_path, busybox_tar, "store")
    proc = run("build", "--build-arg", f"SOURCE_DATE_EPOCH={EPOCH}", str(context))
    assert proc.returncode == 0, proc.stderr
    assert "not consumed" not in proc.stdout + proc.stderr


def test_timestamp_and_source_date_epoch_exclude_each_other(context, tmp_path, busybox_tar):
    run = _fresh_store(tmp_path, busybox_tar, "store")
    proc = run("build", "--timestamp", EPOCH, "--source-date-epoch", EPOCH, str(context))
    assert proc.returncode != 0
    assert "cannot be used together" in proc.stderr and "Traceback" not in proc.stderr
