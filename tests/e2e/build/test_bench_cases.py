"""The bench cases that need no RUN, built by the CLI and checked by skopeo, umoci, podman."""

from __future__ import annotations

import hashlib
import re
import shutil

import pytest
from buildcheck import history_matches_layers

pytestmark = pytest.mark.rootless


def test_scratch_static(rb, case, inspect, podman, tmp_path):
    context = case("scratch-static")
    built = rb("build", "-t", "scratch-static:1", context)
    assert built.returncode == 0, built.stderr
    lines = built.stdout.splitlines()
    assert lines[:2] == ["STEP 1/3: FROM scratch", "STEP 2/3: COPY hello /hello"]
    assert re.fullmatch(r"--> [0-9a-f]{12}", lines[2]) and lines[3] == 'STEP 3/3: ENTRYPOINT ["/hello"]'
    assert lines[-4:-1] == ["COMMIT scratch-static:1", f"--> {lines[-1][:12]}",
                            "Successfully tagged scratch-static:1"]
    assert inspect.manifest("scratch-static:1")["config"]["digest"] == "sha256:" + lines[-1]
    config = inspect.config("scratch-static:1")
    assert config["config"]["Entrypoint"] == ["/hello"]
    assert len(config["rootfs"]["diff_ids"]) == 1 and history_matches_layers(config)
    assert inspect.tar_listing("scratch-static:1").split()[:2] == ["-rwxr-xr-x", "0/0"]
    member = inspect.members("scratch-static:1")["hello"]
    assert (member.uid, member.gid, member.mode) == (0, 0, 0o755)
    rootfs = inspect.unpack("scratch-static:1", tmp_path / "bundle")
    assert (rootfs / "hello").read_bytes() == (context / "hello").read_bytes()
    ran = podman.run("scratch-static:1")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "hello from a static binary (0 args)\n"


def _sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.fixture
def big_cleanup(rb, tmp_path):
    """The case leaves 1.5 GB behind (context, store, bundle): pytest keeps old tmp dirs."""
    yield
    for path in (tmp_path / "bigfile", tmp_path / "bundle", rb.root):
        shutil.rmtree(path, ignore_errors=True)


def test_bigfile_cold_then_warm(rb, busybox, case, inspect, tmp_path, big_cleanup):
    context = case("bigfile")
    cold = rb("build", "-t", "bigfile:1", context)
    assert cold.returncode == 0, cold.stderr
    config = inspect.config("bigfile:1")
    assert len(config["rootfs"]["diff_ids"]) == 2 and history_matches_layers(config)
    member = inspect.members("bigfile:1")["data/big.bin"]
    assert member.size == 524288000 and (member.uid, member.gid) == (0, 0)
    rootfs = inspect.unpack("bigfile:1", tmp_path / "bundle")
    assert _sha256(rootfs / "data" / "big.bin") == _sha256(context / "big.bin")
    assert (rootfs / "bin" / "busybox").is_file()  # the base layer is under it
    warm = rb("build", "-t", "bigfile:1", context)
    assert warm.returncode == 0, warm.stderr
    assert "--> Using cache" in warm.stdout
    assert warm.stdout.splitlines()[-1] == cold.stdout.splitlines()[-1]
