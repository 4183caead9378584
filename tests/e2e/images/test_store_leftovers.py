"""What killed operations leave in $ROOT/tmp (issue 11, item 5), as the unprivileged user:
mode-000 dirs owned by sub-ids, a build killed during a RUN step, a killed save. GC and
the next command clean them; a running operation's temp dir is left alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

BUSYBOX = "localhost:5000/busybox:latest"  # the `busybox` fixture's name for it
MARKER = "3141"  # `sleep 3141`: the RUN step of a build this module kills

pytestmark = pytest.mark.rootless


def _ok(proc) -> str:
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}"
    assert "Traceback" not in proc.stderr and "warning" not in proc.stderr
    return proc.stdout


def _tmp_entries(rb) -> list[str]:
    return sorted(os.listdir(rb.root / "tmp"))


def _in_userns(rb, script: str) -> None:
    """Run a shell script as root of the store's user namespace (a RUN step's ids)."""
    _ok(rb("unshare", "sh", "-euc", script))


def _killed_operation(rb, name: str = "op-1-killed") -> Path:
    """The temp dir of an operation killed mid-RUN: its lock file free, inside a mode-000
    dir owned by a sub-id (what `chown 1000 && chmod 000` in a RUN step leaves)."""
    folder = rb.root / "tmp" / name
    (rb.root / "tmp" / f"{name}.lock").touch()
    _in_userns(rb, f"mkdir -p {folder}/run-x/upper/home/app/data {folder}/run-x/step/work && "
               f"touch {folder}/run-x/upper/home/app/data/f && chown -R 1000:1000 {folder}/run-x/upper/home && "
               f"chmod 000 {folder}/run-x/upper/home/app/data {folder}/run-x/upper/home/app {folder}/run-x/step/work")
    return folder


def test_rmi_and_prune_work_with_mode_000_subid_dirs_left_in_tmp(rb, busybox, busybox_tar):
    _killed_operation(rb, "op-1-killed")
    assert "Deleted: " + busybox in _ok(rb("rmi", BUSYBOX))  # it deletes: GC runs
    assert _tmp_entries(rb) == []
    _ok(rb("import", busybox_tar, BUSYBOX))
    _killed_operation(rb, "op-2-killed")
    _ok(rb("prune"))
    assert _tmp_entries(rb) == []
    assert _ok(rb("fsck")).strip().endswith("OK")


def test_prune_removes_a_killed_layer_extraction(rb, busybox):
    _ok(rb("run", "--rm", BUSYBOX, "true"))  # unpacks busybox's layer
    (layer_dir,) = (rb.root / "layers").iterdir()
    partial = layer_dir / "unpack-killed"
    _in_userns(rb, f"mkdir -p {partial}/etc/secret && chown -R 1000:1000 {partial}/etc && "
               f"chmod 000 {partial}/etc/secret")
    _ok(rb("prune"))
    assert not partial.exists() and (layer_dir / "diff").is_dir()  # the complete layer stays
    assert _ok(rb("run", "--rm", BUSYBOX, "echo", "ok")).strip() == "ok"


def test_an_old_orphan_dir_is_removed_and_a_new_one_kept(rb, busybox):
    """A dir with no lock file (an older version's temp dir) is removed once it is old."""
    old, new = rb.root / "tmp" / "run-old", rb.root / "tmp" / "run-new"
    for folder in (old, new):
        (folder / "work" / "work").mkdir(parents=True)
        os.chmod(folder / "work" / "work", 0)
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    _ok(rb("prune"))
    assert _tmp_entries(rb) == ["run-new"]
    os.chmod(new / "work" / "work", 0o700)


def _build(rb, context: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[3]))
    return subprocess.Popen([sys.executable, "-m", "rootless_build", "--root", str(rb.root), "build", "-q",
                             "-t", "killed", str(context)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, start_new_session=True)


def _wait_for(predicate, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _step_pids() -> list[int]:
    """Our `sleep 3141` processes (the step's, possibly outliving a killed builder)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")[:2] == [b"sleep", MARKER.encode()]:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def _running_step(rb) -> list[Path]:
    return list((rb.root / "tmp").glob("op-*/run-*/upper/made"))


def test_a_build_killed_during_run_is_cleaned_by_the_next_build(rb, busybox, tmp_path):
    (tmp_path / "slow").mkdir()
    (tmp_path / "slow" / "Dockerfile").write_text(
        f"FROM {BUSYBOX}\nRUN mkdir -p /made/deep && chown -R 1000 /made && chmod 000 /made/deep /made "
        f"&& sleep {MARKER}\n")
    proc = _build(rb, tmp_path / "slow")
    try:
        _wait_for(lambda: _running_step(rb) or proc.poll() is not None, "the RUN step")
        assert proc.poll() is None, proc.communicate()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pid in _step_pids():  # a step that outlived its builder still uses its dir
            os.kill(pid, signal.SIGKILL)
        _wait_for(lambda: not _step_pids(), "the step to end", 30)
    killed = [p for p in _tmp_entries(rb) if p.startswith("op-") and not p.endswith(".lock")]
    assert killed, "the killed build left nothing to clean up (was it killed too late?)"

    (tmp_path / "next").mkdir()
    (tmp_path / "next" / "Dockerfile").write_text(f"FROM {BUSYBOX}\nRUN echo next > /next\n")
    _ok(rb("build", "-q", "-t", "next", tmp_path / "next"))
    left = [n for n in _tmp_entries(rb) if any(n.endswith(k) or n.endswith(f"{k}.lock") for k in killed)]
    # what the user cannot remove (sub-id owned) is set aside for GC, which removes it
    assert all(n.startswith("stale-") for n in left), left
    _ok(rb("prune"))
    assert _tmp_entries(rb) == []
    assert _ok(rb("run", "--rm", "next", "cat", "/next")).strip() == "next"


def test_prune_leaves_a_running_builds_temp_dir_alone(rb, busybox, tmp_path):
    (tmp_path / "Dockerfile").write_text(
        f"FROM {BUSYBOX}\nRUN mkdir /made && sleep 4 && echo done > /made/f\n")
    proc = _build(rb, tmp_path)
    try:
        _wait_for(lambda: _running_step(rb) or proc.poll() is not None, "the RUN step")
        _ok(rb("prune"))
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, err
    assert _ok(rb("run", "--rm", "killed", "cat", "/made/f")).strip() == "done"


def test_a_killed_save_leaves_nothing_beside_its_output(rb, debian_tar, tmp_path):
    _ok(rb("import", debian_tar, "big"))
    out = tmp_path / "out"
    out.mkdir()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[3]))
    proc = subprocess.Popen([sys.executable, "-m", "rootless_build", "--root", str(rb.root), "save",
                             "--format", "oci-archive", "-o", str(out / "big.tar"), "big"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, start_new_session=True)
    try:  # kill it as soon as it writes its output (a file open in `out`)
        _wait_for(lambda: _writes_into(proc.pid, out) or proc.poll() is not None, "save to write")
        assert proc.poll() is None, "save finished before it could be killed"
    finally:    # at once: a save of this image (isal gzip) can finish within a tenth of a second
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert os.listdir(out) == []
    _ok(rb("save", "-o", out / "big.tar", "big"))
    assert os.listdir(out) == ["big.tar"]


def test_a_killed_oci_dir_save_is_cleaned_by_the_next_one(rb, debian_tar, tmp_path):
    """A directory has no unnamed form: the next save to the same place removes it."""
    _ok(rb("import", debian_tar, "big"))
    out = tmp_path / "out"
    out.mkdir()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[3]))
    proc = subprocess.Popen([sys.executable, "-m", "rootless_build", "--root", str(rb.root), "save",
                             "--format", "oci-dir", "-o", str(out / "layout"), "big"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, start_new_session=True)
    try:
        _wait_for(lambda: list(out.glob(".layout.*.tmp/blobs")) or proc.poll() is not None, "save to write")
        assert proc.poll() is None, "save finished before it could be killed"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert len(list(out.glob(".layout.*.tmp"))) == 1
    _ok(rb("save", "--format", "oci-dir", "-o", out / "layout", "big"))
    assert os.listdir(out) == ["layout"]


def _writes_into(pid: int, folder: Path) -> bool:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(f"{folder}/"):
                return True
        except OSError:
            continue
    return False
