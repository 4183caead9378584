"""A pull (and an import) through a full disk ends at once with one line naming the filesystem, keeps no
partial blob and no half-written image, and leaves the images already there intact.

The store lives on a 4 MiB tmpfs that the unprivileged test user mounts in its own user
and mount namespace; busybox (1 MiB) fits, debian (50 MiB) does not."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.registry, pytest.mark.rootless]

REPO = Path(__file__).resolve().parents[3]
DRIVER = Path(__file__).with_name("fulldisk_driver.py")


def test_pull_and_import_through_a_full_disk_fail_once_and_keep_nothing(seeded_registry, isolated_env, tmp_path,
                                                                          debian_tar):
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) not installed")
    mountpoint = tmp_path / "small"
    mountpoint.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.update({k: v for k, v in isolated_env.items() if v is not None})
    env.pop("REGISTRY_AUTH_FILE", None)
    small, big = f"{seeded_registry}/busybox:latest", f"{seeded_registry}/debian:latest"
    proc = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", sys.executable, str(DRIVER),
                           str(mountpoint), "4m", small, big, str(debian_tar)],
                          capture_output=True, text=True, env=env, timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["pull_small"]["rc"] == 0, report["pull_small"]["stderr"]

    failed = report["pull_big"]
    assert failed["rc"] != 0
    lines = failed["stderr"].strip().splitlines()
    assert len(lines) == 1, failed["stderr"]
    assert "no space left on device on the tmpfs filesystem mounted on" in lines[0], lines
    assert str(mountpoint) in lines[0] or "/small" in lines[0], lines
    assert "Traceback" not in failed["stderr"] and "Retrying" not in failed["stdout"]

    # Nothing partial: no temp file left, no new blob beyond small complete ones (the
    # config may have arrived whole), and no image for debian.
    assert report["tmp_after"] == [], report["tmp_after"]
    new = set(report["blobs_after"]) - set(report["blobs_before"])
    assert all(Path(name).name != "" for name in new)
    assert len(new) <= 1, new
    # import writes its layer through the same writer: the same one line, nothing kept
    failed = report["import_big"]
    assert failed["rc"] != 0
    lines = failed["stderr"].strip().splitlines()
    assert len(lines) == 1 and "no space left on device on the tmpfs filesystem" in lines[0], failed["stderr"]
    assert report["tmp_after_import"] == [] and report["blobs_after_import"] == report["blobs_after"]

    assert report["images"]["stdout"].split() == [small]
    assert report["fsck"]["rc"] == 0, report["fsck"]["stdout"] + report["fsck"]["stderr"]
    assert report["run_small"]["rc"] == 0 and report["run_small"]["stdout"].startswith("sha256:")
