"""Independent stages build at once (--jobs): the steps of two stages overlap in time, the
image is the one a sequential build makes (to the digest), and a failing stage stops the
others leaving no process, mount or temp dir behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.rootless

TWO_STAGES = """\
FROM localhost:5000/busybox:latest AS left
RUN cut -d' ' -f1 /proc/uptime > /span && sleep 2 && cut -d' ' -f1 /proc/uptime >> /span && echo left > /who

FROM localhost:5000/busybox:latest AS right
RUN cut -d' ' -f1 /proc/uptime > /span && sleep 2 && cut -d' ' -f1 /proc/uptime >> /span && echo right > /who

FROM localhost:5000/busybox:latest
COPY --from=left /span /left
COPY --from=right /span /right
COPY --from=right /who /who
"""


def _context(tmp_path: Path, text: str) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(text)
    return ctx


def test_independent_stages_overlap(rb, busybox, tmp_path) -> None:
    ctx = _context(tmp_path, TWO_STAGES)
    out = tmp_path / "fs"
    proc = rb("build", "--jobs", "2", "-o", out, ctx)
    assert proc.returncode == 0, proc.stderr
    left = [float(x) for x in (out / "left").read_text().split()]
    right = [float(x) for x in (out / "right").read_text().split()]
    assert left[0] < right[1] and right[0] < left[1], f"stages ran one after another: {left} {right}"
    assert "[right] " in proc.stdout                # the child's lines name its stage
    again = rb("build", "--jobs", "2", ctx)           # cached: no child starts at all
    assert again.returncode == 0 and "[right]" not in again.stdout


def test_same_digest_as_sequential(busybox_tar, tmp_path) -> None:
    ctx = _context(tmp_path, TWO_STAGES.replace("sleep 2", "true").replace("cut -d' ' -f1 /proc/uptime", "echo 1"))
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[3]), SOURCE_DATE_EPOCH="1700000000")
    digests = []
    for jobs in ("4", "1"):
        store = tmp_path / f"store-{jobs}"
        store.mkdir()
        cli = [sys.executable, "-m", "rootless_build", "--root", str(store)]
        subprocess.run([*cli, "import", str(busybox_tar), "localhost:5000/busybox:latest"], check=True, env=env,
                       capture_output=True)
        built = subprocess.run([*cli, "build", "--jobs", jobs, "-t", "par:1", str(ctx)], env=env,
                               capture_output=True, text=True)
        assert built.returncode == 0, built.stderr
        assert ("[right] " in built.stdout) == (jobs != "1")
        digests.append(subprocess.run([*cli, "inspect", "--format", "{{.Digest}}", "par:1"], env=env,
                                      capture_output=True, text=True).stdout.strip())
    assert digests[0] and digests[0] == digests[1]


def test_a_failing_stage_stops_the_others_cleanly(rb, busybox, tmp_path) -> None:
    marker = f"rb-parallel-{os.getpid()}"
    ctx = _context(tmp_path, f"""\
FROM localhost:5000/busybox:latest AS slow
RUN sleep 30 # {marker}

FROM localhost:5000/busybox:latest AS broken
RUN echo about to fail && false

FROM localhost:5000/busybox:latest
COPY --from=slow /etc/hostname /a
COPY --from=broken /etc/hostname /b
""")
    proc = rb("build", "--jobs", "3", ctx, timeout=120)
    assert proc.returncode != 0
    assert "false" in proc.stderr and "exit status 1" in proc.stderr
    assert "Traceback" not in proc.stderr
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
    assert not left, f"processes of the stopped stage still run: {left}"
    assert not [p for p in (rb.root / "tmp").rglob("*") if p.is_dir() and p.name.startswith(("run-", "step"))]
    with open("/proc/self/mountinfo") as f:
        assert str(rb.root) not in f.read()


def test_progress_rawjson_and_quiet(rb, busybox, tmp_path) -> None:
    import json

    ctx = _context(tmp_path, TWO_STAGES.replace("sleep 2", "echo working"))
    proc = rb("build", "--progress", "rawjson", "--jobs", "3", ctx)
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]   # every line is JSON
    kinds = {event["event"] for event in events}
    assert {"step", "log", "produced", "commit", "image"} <= kinds
    assert any(event.get("stage") == "right" for event in events)   # a child's events name it
    assert any("working" in event.get("data", "") for event in events if event["event"] == "log")
    quiet = rb("build", "--progress", "quiet", ctx)
    assert quiet.returncode == 0 and len(quiet.stdout.split()) == 1
