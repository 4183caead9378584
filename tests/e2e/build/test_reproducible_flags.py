"""Reproducibility: the build's date is part of every step's cache key, the
SOURCE_DATE_EPOCH build arg is consumed as BuildKit consumes it, and buildah's
--source-date-epoch / --timestamp / --rewrite-timestamp give the same image in any store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.rootless, pytest.mark.registry]

DOCKERFILE = """\
FROM localhost:5000/busybox:latest
COPY a.txt /a.txt
WORKDIR /app
"""
RUN_STEP = "RUN echo built > /built\n"  # reproducible only when new files' times are clamped
EPOCH = "1000000000"


@pytest.fixture
def context(tmp_path: Path) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "a.txt").write_text("a\n")
    return ctx


def _fresh_store(tmp_path: Path, seeded_registry: str, name: str):
    """A new store holding the seeded busybox (pulled: the same image in every store)."""
    root = tmp_path / name
    root.mkdir()

    def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "rootless_build", "--root", str(root), *args],
                              capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, check=False,
                              env={**os.environ, **(env or {})})

    pulled = run("pull", "-q", f"{seeded_registry}/busybox:latest")
    assert pulled.returncode == 0, pulled.stderr
    if seeded_registry != "localhost:5000":
        assert run("tag", f"{seeded_registry}/busybox:latest", "localhost:5000/busybox:latest").returncode == 0
    return run


def _build(run, context: Path, *flags: str) -> str:
    env = None
    if flags and flags[0] == "env":  # the SOURCE_DATE_EPOCH environment variable
        env, flags = {"SOURCE_DATE_EPOCH": flags[1]}, flags[2:]
    proc = run("build", "-q", *flags, str(context), env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("flags,with_run", [
    (("--build-arg", f"SOURCE_DATE_EPOCH={EPOCH}"), False),
    (("--source-date-epoch", EPOCH), False),
    (("--source-date-epoch", EPOCH, "--rewrite-timestamp"), True),
    (("--timestamp", EPOCH), True),
    (("env", EPOCH), True),
], ids=["build-arg", "source-date-epoch", "rewrite-timestamp", "timestamp", "environment"])
def test_dated_build_after_an_undated_one_equals_a_fresh_one(flags, with_run, context, tmp_path, seeded_registry):
    if with_run:
        (context / "Dockerfile").write_text(DOCKERFILE + RUN_STEP)
    warm = _fresh_store(tmp_path, seeded_registry, "warm")
    undated = _build(warm, context)
    after_cache = _build(warm, context, *flags)
    fresh = _build(_fresh_store(tmp_path, seeded_registry, "fresh"), context, *flags)
    assert after_cache == fresh != undated
    # and the dated build is itself cached now: the same again is the same image
    assert _build(warm, context, *flags) == fresh


def test_source_date_epoch_build_arg_is_consumed(context, tmp_path, seeded_registry):
    run = _fresh_store(tmp_path, seeded_registry, "store")
    proc = run("build", "--build-arg", f"SOURCE_DATE_EPOCH={EPOCH}", str(context))
    assert proc.returncode == 0, proc.stderr
    assert "not consumed" not in proc.stdout + proc.stderr


def test_timestamp_and_source_date_epoch_exclude_each_other(context, tmp_path, seeded_registry):
    run = _fresh_store(tmp_path, seeded_registry, "store")
    proc = run("build", "--timestamp", EPOCH, "--source-date-epoch", EPOCH, str(context))
    assert proc.returncode != 0
    assert "cannot be used together" in proc.stderr and "Traceback" not in proc.stderr
