"""diff, cp and export on each storage driver (the upper dir is a change set for the overlay
drivers, a full copy for vfs): the same answers everywhere."""

from __future__ import annotations

import io
import subprocess
import tarfile

import pytest

pytestmark = pytest.mark.rootless

SCRIPT = "echo hi > /hello; rm /etc/group; mkdir -p /tmp/d/e; echo x >> /etc/passwd; rm -r /home; touch /bin/new"
EXPECTED = ["C /bin", "A /bin/new", "C /etc", "D /etc/group", "C /etc/passwd", "A /hello", "D /home", "C /tmp",
            "A /tmp/d", "A /tmp/d/e"]


def ok(proc):
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.parametrize("driver", ["overlay", "fuse-overlayfs", "vfs"])
def test_diff_cp_export_on_each_driver(rb, cli_argv, busybox, tmp_path, driver) -> None:
    ok(rb("--storage-driver", driver, "run", "--name", "c", busybox, "sh", "-c", SCRIPT))
    assert ok(rb("inspect", "-f", "{{.Driver}}", "c")).stdout.strip() == driver
    assert ok(rb("diff", "c")).stdout.splitlines() == EXPECTED
    (tmp_path / "f").write_text("content\n")
    ok(rb("cp", tmp_path / "f", "c:/tmp/d/"))
    assert ok(rb("diff", "c")).stdout.splitlines() == EXPECTED + ["A /tmp/d/f"]
    ok(rb("cp", "c:/tmp/d", tmp_path / "out"))
    assert (tmp_path / "out" / "f").read_text() == "content\n" and (tmp_path / "out" / "e").is_dir()
    exported = subprocess.run([*cli_argv, "export", "c"], capture_output=True, timeout=120, check=False)
    assert exported.returncode == 0, exported.stderr
    with tarfile.open(fileobj=io.BytesIO(exported.stdout)) as tar:
        names = set(tar.getnames())
        assert tar.extractfile("tmp/d/f").read() == b"content\n"
    assert {"hello", "bin/new", "tmp/d/e"} <= names and not {"etc/group", "home"} & names
