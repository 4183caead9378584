"""Bad input: one line on stderr naming file and line, a non-zero exit, a store that
`fsck` still finds consistent."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.rootless

BASE = "FROM localhost:5000/busybox:latest\n"

CASES = [
    ("missing-file", BASE + "ENV A=1\n\nCOPY nosuch /x\n",
     "Error: Dockerfile:4: COPY nosuch /x: nosuch: no such file or directory in the build context"),
    ("unknown-instruction", BASE + "FROBNICATE x\n", "Error: Dockerfile:2: unknown instruction: FROBNICATE"),
    ("bad-flag", BASE + "COPY --bogus=1 a /x\n", "Error: Dockerfile:2: unknown flag: --bogus"),
    # a registry on a closed loopback port: the pull fails at once, and never leaves the machine
    ("missing-base", "FROM scratch AS one\nENV A=1\nFROM 127.0.0.1:1/nosuch:1\n",
     "Error: Dockerfile:3: FROM 127.0.0.1:1/nosuch:1: pulling 127.0.0.1:1/nosuch:1: "),
    ("failing-run", BASE + "ENV A=1\nRUN exit 3\n", "Error: Dockerfile:3: RUN exit 3: exit status 3"),
    # a wildcard matching nothing is accepted, as BuildKit does; a missing named source is not
    ("missing-source", BASE + "COPY nothing /x/\n",
     "Error: Dockerfile:2: COPY nothing /x/: nothing: no such file or directory in the build context"),
    ("chown-unknown-user", BASE + "COPY --chown=nobody-here a /x\n",
     "Error: Dockerfile:2: COPY --chown=nobody-here a /x: unable to find user nobody-here"),
    ("several-sources", BASE + "COPY a a /x\n", "Error: Dockerfile:2: COPY a a /x: when using COPY with more"),
    ("add-url", BASE + "ADD http://127.0.0.1:1/x /x\n",
     "Error: Dockerfile:2: ADD http://127.0.0.1:1/x /x: downloading http://127.0.0.1:1/x: "),
]


@pytest.mark.parametrize("dockerfile,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_one_line_error_and_a_sound_store(rb, busybox, tmp_path: Path, dockerfile, expected):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "a").write_text("a")
    (context / "Dockerfile").write_text(dockerfile)
    proc = rb("build", "-t", "bad:1", context)
    assert proc.returncode != 0
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    fsck = rb("fsck")
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    assert rb("inspect", "bad:1").returncode != 0


@pytest.mark.parametrize("args,expected", [
    (["--platform", "windows/amd64"], "Error: platform windows/amd64: only linux images can be built"),
    (["--platform", "linux/amd64,linux/amd64"],
     "Error: --platform linux/amd64,linux/amd64: linux/amd64 is given twice"),
    (["-t", "Bad Name"], "Error: invalid tag"),
    (["--target", "nope"], "Error: target stage 'nope' could not be found"),
    (["-f", "missing.Dockerfile"], "Error: no Dockerfile found"),
])
def test_bad_options(rb, busybox, tmp_path: Path, args, expected):
    (tmp_path / "Dockerfile").write_text(BASE)
    proc = rb("build", *args, tmp_path)
    assert proc.returncode != 0
    assert proc.stderr.splitlines() == [proc.stderr.strip()] and proc.stderr.startswith(expected), proc.stderr
