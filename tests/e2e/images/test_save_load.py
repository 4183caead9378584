"""save in every format, checked by the real consumers (skopeo, umoci, rootless podman),
load back into an empty store, and bad archives, as the unprivileged user."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.rootless

BUSYBOX = "localhost:5000/busybox:latest"  # the `busybox` fixture's name for it
FORMATS = ["oci-archive", "docker-archive", "oci-dir"]


def _ok(proc):
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}"
    return proc.stdout


def _rb_in(root: Path, *args) -> subprocess.CompletedProcess[str]:
    """The CLI on another store (the `rb` fixture is bound to its own)."""
    return subprocess.run([sys.executable, "-m", "rootless_build", "--root", str(root), *map(str, args)],
                          capture_output=True, text=True, timeout=300, check=False, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("fmt", FORMATS)
def test_save_is_read_by_skopeo_and_umoci_and_loads_back(rb, busybox, tool, tmp_path, fmt):
    out = tmp_path / f"busybox.{fmt}"
    _ok(rb("save", "--format", fmt, "-o", out, BUSYBOX))
    transport = {"oci-archive": "oci-archive", "docker-archive": "docker-archive", "oci-dir": "oci"}[fmt]
    info = json.loads(tool("skopeo", "inspect", f"{transport}:{out}:{BUSYBOX}").stdout)
    assert len(info["Layers"]) == 1
    config = json.loads(tool("skopeo", "inspect", "--config", "--raw", f"{transport}:{out}:{BUSYBOX}").stdout)
    assert config["rootfs"]["diff_ids"] == json.loads(_ok(rb("inspect", BUSYBOX)))[0]["RootFS"]["Layers"]

    copied = tmp_path / "copied"
    tool("skopeo", "copy", f"{transport}:{out}:{BUSYBOX}", f"oci:{copied}:t")
    bundle = tmp_path / "bundle"
    tool("umoci", "unpack", "--rootless", "--image", f"{copied}:t", bundle)
    assert (bundle / "rootfs" / "bin" / "busybox").is_file()
    if fmt == "oci-dir":  # umoci reads our directory directly too
        tool("umoci", "unpack", "--rootless", "--image", f"{out}:{BUSYBOX}", tmp_path / "bundle2")
        assert (tmp_path / "bundle2" / "rootfs" / "bin" / "busybox").is_file()

    empty = tmp_path / "empty-store"
    loaded = _ok(_rb_in(empty, "load", "-i", out))
    assert loaded.splitlines() == [f"Loaded image: {BUSYBOX}"]
    assert _ok(_rb_in(empty, "images", "-q", "--no-trunc")).split() == [busybox]
    assert _ok(_rb_in(empty, "fsck")).strip().endswith("OK")
    tool("skopeo", "inspect", f"oci:{empty}:{BUSYBOX}")


@pytest.mark.parametrize("fmt", ["oci-archive", "docker-archive"])
def test_podman_loads_and_runs_the_archive(rb, busybox, podman, tmp_path, fmt):
    out = tmp_path / f"busybox-{fmt}.tar"
    _ok(rb("save", "--format", fmt, "-o", out, BUSYBOX))
    proc = podman("load", "-i", out)
    assert proc.returncode == 0, proc.stderr
    assert BUSYBOX in proc.stdout
    image_id = podman("image", "inspect", "--format", "{{.Id}}", BUSYBOX).stdout.strip()
    assert image_id == busybox[7:]  # the same config, so the same ID
    run = podman("run", "--rm", "--network", "none", BUSYBOX, "/bin/busybox", "echo", "ok")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"


def test_save_compression_choices_and_variant_reuse(rb, busybox, tool, tmp_path):
    sizes = {}
    for compression in ("gzip", "zstd", "none"):
        out = tmp_path / f"{compression}.tar"
        _ok(rb("save", "--compression", compression, "-o", out, BUSYBOX))
        manifest = json.loads(tool("skopeo", "inspect", "--raw", f"oci-archive:{out}:{BUSYBOX}").stdout)
        media_type = manifest["layers"][0]["mediaType"]
        assert media_type.endswith({"gzip": "+gzip", "zstd": "+zstd", "none": ".tar"}[compression])
        sizes[compression] = out.stat().st_size
    assert sizes["gzip"] < sizes["none"] and sizes["zstd"] < sizes["none"]
    variants = sorted(p.name for p in (rb.root / "cache" / "variants").iterdir())
    assert [v.rsplit("-", 1)[1] for v in variants] == ["gzip", "zstd"]
    again = tmp_path / "again.tar"
    _ok(rb("save", "--compression", "gzip", "-o", again, BUSYBOX))
    assert again.read_bytes() == (tmp_path / "gzip.tar").read_bytes()


def test_save_to_stdout_and_load_from_stdin(rb, busybox, tmp_path):
    with open(tmp_path / "piped.tar", "wb") as out:
        proc = subprocess.run([sys.executable, "-m", "rootless_build", "--root", str(rb.root), "save",
                               "--format", "docker-archive", BUSYBOX], stdout=out, stderr=subprocess.PIPE,
                              timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    empty = tmp_path / "empty-store"
    with open(tmp_path / "piped.tar", "rb") as src:
        proc = subprocess.run([sys.executable, "-m", "rootless_build", "--root", str(empty), "load"],
                              stdin=src, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"Loaded image: {BUSYBOX}"


def _assert_clean_failure(proc, store: Path) -> None:
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in proc.stderr, proc.stderr
    fsck = _rb_in(store, "fsck")
    assert fsck.returncode == 0 and fsck.stdout.strip().endswith("OK"), fsck.stdout
    assert _ok(_rb_in(store, "images", "-q")) == ""
    assert list((store / "tmp").iterdir()) == []


@pytest.mark.parametrize("fmt", ["oci-archive", "docker-archive"])
def test_truncated_and_corrupt_archives_fail_cleanly(rb, busybox, tmp_path, fmt):
    out = tmp_path / "full.tar"
    _ok(rb("save", "--format", fmt, "-o", out, BUSYBOX))
    data = out.read_bytes()
    empty = tmp_path / "empty-store"

    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(data[: len(data) * 2 // 3])
    _assert_clean_failure(_rb_in(empty, "load", "-i", truncated), empty)

    corrupt = bytearray(data)
    corrupt[len(data) // 2] ^= 0x55  # inside the layer, the biggest member
    (tmp_path / "corrupt.tar").write_bytes(bytes(corrupt))
    proc = _rb_in(empty, "load", "-i", tmp_path / "corrupt.tar")
    _assert_clean_failure(proc, empty)
    assert "corrupt" in proc.stderr

    _assert_clean_failure(_rb_in(empty, "load", "-i", tmp_path / "absent.tar"), empty)
