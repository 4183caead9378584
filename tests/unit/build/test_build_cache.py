"""Cache keys: stable for the same inputs, different when any input changes; a changed
file reruns its step and the ones after; a touched (not changed) file stays cached."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from buildhelpers import run_build

from rootless_build.builder.cache import step_key
from rootless_build.builder.statcache import StatCache


def test_key_is_stable_and_sensitive():
    inputs = {"entries": [["a", "file", 0o644, 0, 0, "", "", "sha256:" + "0" * 64]], "keyword": "COPY"}
    key = step_key("sha256:" + "1" * 64, "COPY", inputs)
    assert key == step_key("sha256:" + "1" * 64, "COPY", dict(reversed(list(inputs.items()))))
    assert key.startswith("sha256:") and len(key) == 71
    assert key != step_key("sha256:" + "2" * 64, "COPY", inputs)
    assert key != step_key("sha256:" + "1" * 64, "ADD", inputs)
    changed = {**inputs, "entries": [["a", "file", 0o600, 0, 0, "", "", "sha256:" + "0" * 64]]}
    assert key != step_key("sha256:" + "1" * 64, "COPY", changed)


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    path = tmp_path / "ctx"
    path.mkdir()
    (path / "a.txt").write_text("a")
    (path / "b.txt").write_text("b")
    return path


DOCKERFILE = "FROM scratch\nCOPY a.txt /a\nENV X=1\nCOPY b.txt /b\nCMD [\"x\"]\n"


def cached_steps(output: str) -> list[str]:
    lines = output.splitlines()
    return [lines[i - 1] for i, line in enumerate(lines) if line.startswith("--> Using cache")]


def test_changed_file_reruns_from_its_step(store, ctx):
    run_build(store, ctx, DOCKERFILE)
    assert len(cached_steps(run_build(store, ctx, DOCKERFILE).output)) == 4
    (ctx / "b.txt").write_text("B!")
    rerun = run_build(store, ctx, DOCKERFILE)
    assert cached_steps(rerun.output) == ["STEP 2/5: COPY a.txt /a", "STEP 3/5: ENV X=1"]


def test_touched_file_stays_cached(store, ctx):
    first = run_build(store, ctx, DOCKERFILE)
    st = os.stat(ctx / "a.txt")
    os.utime(ctx / "a.txt", ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    again = run_build(store, ctx, DOCKERFILE)
    assert len(cached_steps(again.output)) == 4
    assert again.image.id == first.image.id


def test_chmod_and_chown_change_the_key(store, ctx):
    run_build(store, ctx, "FROM scratch\nCOPY a.txt /a\n")
    assert cached_steps(run_build(store, ctx, "FROM scratch\nCOPY --chmod=600 a.txt /a\n").output) == []
    assert cached_steps(run_build(store, ctx, "FROM scratch\nCOPY --chown=5:5 a.txt /a\n").output) == []


def test_stat_cache_skips_unchanged_files(store, ctx):
    past = os.stat(ctx / "a.txt").st_mtime_ns - 10 * 10**9
    os.utime(ctx / "a.txt", ns=(past, past))
    os.utime(ctx / "b.txt", ns=(past, past))
    time.sleep(0.06)  # utime set the ctime to now: wait out the racy window
    run_build(store, ctx, DOCKERFILE)
    hashes = StatCache(store, str(ctx.resolve()))
    st = os.lstat(ctx / "a.txt")
    digest = hashes.lookup("a.txt", st)
    assert digest is not None and digest.startswith("sha256:")
    (ctx / "a.txt").write_text("changed")
    assert hashes.lookup("a.txt", os.lstat(ctx / "a.txt")) is None


def test_stat_cache_ignores_racy_entries(store, ctx):
    hashes = StatCache(store, str(ctx.resolve()))
    (ctx / "fresh").write_text("just written")
    st = os.lstat(ctx / "fresh")
    hashes.remember("fresh", st, "sha256:" + "0" * 64)
    assert hashes.lookup("fresh", st) is None  # modified in the same instant: hash it again


@pytest.mark.parametrize("torn", [b"", b'{"image": "sha256:', b"\0" * 40], ids=["empty", "truncated", "zero-filled"])
def test_a_cache_record_torn_by_a_crash_is_a_miss(store, ctx, torn):
    """Cache records and the context's hashes are written without fsync: what a crash can
    leave of one reruns its step (and the steps after it), never fails the build."""
    from rootless_build.builder.statcache import CONTEXT_HASHES
    from rootless_build.store.roots import BUILD_CACHE

    for name in ("a.txt", "b.txt"):     # out of the racy window, so that their hashes are kept
        past = os.stat(ctx / name).st_mtime_ns - 10 * 10**9
        os.utime(ctx / name, ns=(past, past))
    time.sleep(0.06)
    run_build(store, ctx, DOCKERFILE)
    names = sorted(store.record_names(BUILD_CACHE))
    assert len(names) == 4 and len(store.record_names(CONTEXT_HASHES)) == 1
    for name in names:
        (store.cache_dir / BUILD_CACHE / name).write_bytes(torn)
    (store.cache_dir / CONTEXT_HASHES / store.record_names(CONTEXT_HASHES)[0]).write_bytes(torn)
    again = run_build(store, ctx, DOCKERFILE)
    assert cached_steps(again.output) == [] and again.image is not None
    assert len(cached_steps(run_build(store, ctx, DOCKERFILE).output)) == 4      # recorded whole again
