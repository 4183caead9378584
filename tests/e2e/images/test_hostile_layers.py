"""Hostile layer tars (testdata/hostile-tars) fed through load, import, a build that
COPYs from (and onto) an image holding one, and run, as the unprivileged user: each exits
non-zero with one line, quickly, with bounded memory, and the store stays sound."""

from __future__ import annotations

import hashlib
import json
import runpy
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.rootless

HOSTILE = runpy.run_path(str(Path(__file__).parents[3] / "testdata" / "hostile-tars" / "make.py"))
CASES = HOSTILE["cases"]()
# one of each kind; the unit table (tests/unit/layers/test_layers_tarreader.py) has them all
E2E = ["pax-negative-size", "base256-huge-size", "non-octal-size", "pax-record-overruns",
       "pax-header-too-large", "many-pax-headers", "sparse-real-size-1tib", "sparse-chunks-overlap",
       "truncated-in-data"]
FAST = 30  # seconds: the PAX size=-1536 layer used to hang the build forever
MAX_RSS = 300 << 20


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _config(layer: bytes) -> bytes:
    return json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/file"]},
                       "rootfs": {"type": "layers", "diff_ids": [_sha(layer)]}}).encode()


def _oci_layout(layer: bytes, out: Path) -> None:
    """An OCI layout holding one image with this layer (no tool of ours writes it)."""
    config = _config(layer)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": _sha(config),
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": _sha(layer),
                    "size": len(layer)}]}).encode()
    blobs = out / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    for blob in (layer, config, manifest):
        (blobs / _sha(blob)[7:]).write_bytes(blob)
    (out / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (out / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": _sha(manifest),
        "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": "hostile:1"}}]}))


def _docker_archive(layer: bytes, out: Path, tool) -> None:
    import io
    import tarfile

    config = _config(layer)
    files = {"layer.tar": layer, "config.json": config, "manifest.json": json.dumps(
        [{"Config": "config.json", "RepoTags": ["hostile:1"], "Layers": ["layer.tar"]}]).encode()}
    with tarfile.open(out, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


class _Measured:
    """A finished CLI command with its peak RSS (KiB): RUSAGE_CHILDREN would give the largest
    child of the whole test session, not this one's."""

    def __init__(self, returncode: int, stdout: str, stderr: str, maxrss: int):
        self.returncode, self.stdout, self.stderr, self.maxrss = returncode, stdout, stderr, maxrss


def _measured(rb, *args, timeout: float = FAST * 2) -> _Measured:
    import os
    import subprocess
    import sys
    import tempfile

    repo = str(Path(__file__).resolve().parents[3])
    env = {**os.environ, "PYTHONPATH": repo, "COLUMNS": "200", "NO_COLOR": "1"}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen([sys.executable, "-m", "rootless_build", "--root", str(rb.root), *map(str, args)],
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                child.kill()
                pid, status, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.05)
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return _Measured(child.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                         usage.ru_maxrss)


def _one_line_failure(proc, expected: str | tuple[str, ...], started: float) -> None:
    assert proc.returncode != 0, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
    assert any(e in lines[0] for e in ((expected,) if isinstance(expected, str) else expected)), lines[0]
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert time.monotonic() - started < FAST
    # no command grew its memory with the hostile input (this command's own peak, from wait4)
    assert proc.maxrss * 1024 < MAX_RSS


@pytest.mark.parametrize("case", E2E)
def test_load_and_import_refuse_the_layer(rb, tmp_path, tool, case):
    layer, expected = CASES[case]
    archive = tmp_path / "hostile.tar"
    _docker_archive(layer, archive, tool)
    started = time.monotonic()
    _one_line_failure(_measured(rb, "load", "-i", archive), expected, started)
    (tmp_path / "layer.tar").write_bytes(layer)
    started = time.monotonic()
    # import sniffs the first header before it stores anything: a broken one is "not a tar archive"
    _one_line_failure(_measured(rb, "import", tmp_path / "layer.tar", "hostile:2"), (expected, "not a tar archive"),
                      started)
    assert rb("images", "-q").stdout.strip() == ""  # nothing was stored
    assert rb("fsck").returncode == 0


@pytest.mark.parametrize("case", E2E)
def test_build_and_run_refuse_an_image_holding_the_layer(rb, busybox, tmp_path, tool, case):
    layer, expected = CASES[case]
    _oci_layout(layer, tmp_path / "layout")
    # put there by another tool (skopeo), as an older version of ours or a registry might have
    tool("skopeo", "copy", "--quiet", f"oci:{tmp_path / 'layout'}:hostile:1", f"oci:{rb.root}:hostile:1")
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "a").write_text("a")
    for dockerfile in ("FROM localhost:5000/busybox:latest\nCOPY --from=hostile:1 /file /x\n",
                       "FROM hostile:1\nCOPY a /a\n"):
        (context / "Dockerfile").write_text(dockerfile)
        started = time.monotonic()
        _one_line_failure(_measured(rb, "build", "--no-cache", "-t", "out:1", context), expected, started)
    started = time.monotonic()
    _one_line_failure(_measured(rb, "run", "--rm", "hostile:1", "/file"), expected, started)
    assert rb("inspect", "out:1").returncode != 0
    assert rb("fsck").returncode == 0
