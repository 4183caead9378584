"""Per-operation temp dirs (store/scratch.py) and remove_tree (store/trees.py), with real
processes holding and losing their locks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rootless_build.store import Store
from rootless_build.store.scratch import sweep
from rootless_build.store.trees import remove_tree

REPO = Path(__file__).resolve().parents[3]

HOLDER = """
import sys, time
from rootless_build.store import Store
store = Store.open(sys.argv[1])
(store.tmp_dir / "work").mkdir()
print(store.tmp_dir.name, flush=True)
time.sleep(600)
"""


def _holder(root: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(root)], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    return proc, proc.stdout.readline().strip()


def test_a_running_operations_dir_is_kept_and_a_killed_ones_removed(tmp_path):
    store = Store.open(tmp_path / "store")
    proc, name = _holder(store.root)
    try:
        assert sweep(store.tmp_root, remove_tree, stale_too=True) == []
        assert (store.tmp_root / name / "work").is_dir()  # its lock is held
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        other = Store.open(store.root)
        mine = other.tmp_dir  # first use sweeps what the killed one left
        assert sorted(os.listdir(store.tmp_root)) == sorted([mine.name, f"{mine.name}.lock"])
    finally:
        proc.kill()
        proc.wait()


def test_an_orphan_is_removed_only_once_old(tmp_path):
    store = Store.open(tmp_path / "store")
    (store.tmp_root / "blob-new").write_bytes(b"x")
    (store.tmp_root / "blob-old").write_bytes(b"x")
    os.utime(store.tmp_root / "blob-old", (time.time() - 7200, time.time() - 7200))
    sweep(store.tmp_root, remove_tree)
    assert os.listdir(store.tmp_root) == ["blob-new"]


def test_remove_tree_opens_up_mode_000_dirs(tmp_path):
    top = tmp_path / "top"
    (top / "a" / "b" / "c").mkdir(parents=True)
    (top / "a" / "b" / "c" / "f").write_bytes(b"x")
    for d in (top / "a" / "b" / "c", top / "a" / "b", top / "a"):
        os.chmod(d, 0)
    assert remove_tree(top) and not top.exists()
    assert remove_tree(top)  # absent: fine
