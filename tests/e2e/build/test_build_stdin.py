"""`build -`: the context as a tar on stdin (plain or compressed; -f names a file inside
it), or a lone Dockerfile on stdin with an empty context, as `docker build -` takes them.
RUN steps run too (the build may re-execute itself in the user namespace: stdin is read
once, the context found again)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.rootless


def _tar(files: dict[str, str], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def stdin_build(rb, tmp_path):
    """stdin_build(data, *args) -> CompletedProcess of `build ... -` with `data` (bytes) on
    stdin; checks that the received context was removed afterwards."""
    temp = tmp_path / "tmpdir"
    temp.mkdir()

    def run(data: bytes, *args: str) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, PYTHONPATH=str(REPO), NO_COLOR="1", TMPDIR=str(temp))
        cmd = [sys.executable, "-m", "rootless_build", "--root", str(rb.root), "build",
               "--build-arg", "REGISTRY=localhost:5000", *args, "-"]
        done = subprocess.run(cmd, input=data, capture_output=True, env=env, timeout=600, check=False)
        assert list(temp.iterdir()) == []
        return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(errors="replace"),
                                           done.stderr.decode(errors="replace"))

    return run


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_context_tar_on_stdin(rb, busybox, stdin_build, mode):
    files = {
        "Dockerfile": "ARG REGISTRY\nFROM ${REGISTRY}/busybox:latest\nCOPY hello.txt /hello.txt\n"
                      "RUN cat /hello.txt > /seen.txt\n",
        "hello.txt": "hello from the tar\n",
    }
    done = stdin_build(_tar(files, mode), "-t", "fromtar")
    assert done.returncode == 0, done.stderr
    shown = rb("run", "--rm", "fromtar", "cat", "/seen.txt")
    assert shown.stdout == "hello from the tar\n", shown.stderr


def test_tar_with_a_named_dockerfile(rb, busybox, stdin_build):
    files = {"build/App.Dockerfile": "ARG REGISTRY\nFROM ${REGISTRY}/busybox:latest\nCOPY data /data\n",
             "data": "d\n"}
    done = stdin_build(_tar(files), "-f", "build/App.Dockerfile", "-t", "named")
    assert done.returncode == 0, done.stderr


def test_lone_dockerfile_on_stdin(rb, busybox, stdin_build):
    text = "ARG REGISTRY\nFROM ${REGISTRY}/busybox:latest\nRUN echo lone > /lone.txt\n"
    done = stdin_build(text.encode(), "-t", "lone")
    assert done.returncode == 0, done.stderr
    assert rb("run", "--rm", "lone", "cat", "/lone.txt").stdout == "lone\n"
    # the context is empty: there is nothing to COPY
    failed = stdin_build(b"ARG REGISTRY\nFROM ${REGISTRY}/busybox:latest\nCOPY x /x\n")
    assert failed.returncode != 0 and "Traceback" not in failed.stderr


def test_hostile_tar_on_stdin_is_refused(rb, stdin_build):
    evil = _tar({"../escape.txt": "x", "Dockerfile": "FROM scratch\n"})
    done = stdin_build(evil)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("Error: build context on stdin:")
