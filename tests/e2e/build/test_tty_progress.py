"""The tty progress view (cli/ttyprogress.py), run under a real pseudo-terminal: stages as
groups, steps with their time or CACHED, the running step's RUN output, the final screen kept,
the failing step's whole output on an error; and on a pipe, the plain lines as before."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.rootless

REPO = Path(__file__).resolve().parents[3]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")

PARALLEL = """\
FROM localhost:5000/busybox:latest AS left
RUN echo left-says-hello && sleep 1.5 && echo left > /who

FROM localhost:5000/busybox:latest AS right
RUN echo right-says-hello && sleep 1.5 && echo right > /who

FROM localhost:5000/busybox:latest
COPY --from=left /who /left
COPY --from=right /who /right
RUN cat /left /right
"""

FAILING = """\
FROM localhost:5000/busybox:latest AS slow
RUN sleep 30

FROM localhost:5000/busybox:latest AS broken
RUN for i in $(seq 1 15); do echo broken-line-$i; done; sleep 1; exit 3

FROM localhost:5000/busybox:latest
COPY --from=slow /etc/hostname /a
COPY --from=broken /etc/hostname /b
"""


def _in_pty(root: Path, *args: str) -> tuple[int, str]:
    """Our CLI with stdin, stdout and stderr on a new pseudo-terminal: (exit status, screen
    transcript with the escape sequences taken out)."""
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160", "LINES": "60", "PYTHONPATH": str(REPO)}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-m", "rootless_build", "--root", str(root), *args],
                            stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:      # EIO: every writer of the terminal is gone
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    code = proc.wait(timeout=120)
    return code, ANSI.sub("", b"".join(chunks).decode(errors="replace")).replace("\r", "")


def _final_screen(text: str) -> str:
    return text[text.rindex("[+] Building"):]


def _context(tmp_path: Path, text: str) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(text)
    return ctx


def test_grouped_view_then_cached(rb, busybox, tmp_path: Path) -> None:
    ctx = _context(tmp_path, PARALLEL)
    code, text = _in_pty(rb.root, "build", "--progress", "tty", "--jobs", "3", str(ctx))
    assert code == 0, text
    assert "left-says-hello" in text and "right-says-hello" in text   # the running steps' output
    final = _final_screen(text)
    assert "FINISHED" in final.splitlines()[0]
    for group in ("=> left", "=> right", "=> stage-2"):
        assert group in final, final
    assert re.search(r"✔ \[left 2/2\] RUN echo left-says-hello .* \d+\.\ds", final), final
    assert re.search(r"✔ \[right 2/2\] RUN echo right-says-hello .* \d+\.\ds", final), final
    assert "[stage-2 4/4] RUN cat /left /right" in final
    assert "STEP " not in text                # no plain lines
    image_id = final.strip().splitlines()[-1]
    assert re.fullmatch(r"[0-9a-f]{64}", image_id), final

    code, text = _in_pty(rb.root, "build", str(ctx))     # auto: a terminal gets the view
    assert code == 0, text
    final = _final_screen(text)
    assert re.search(r"\[left 2/2\] RUN echo left-says-hello .* CACHED", final), final
    assert re.search(r"\[stage-2 4/4\] RUN cat /left /right .* CACHED", final), final
    assert final.strip().splitlines()[-1] == image_id


def test_failure_shows_the_failing_steps_output(rb, busybox, tmp_path: Path) -> None:
    ctx = _context(tmp_path, FAILING)
    code, text = _in_pty(rb.root, "build", "--progress", "tty", "--jobs", "3", str(ctx))
    assert code == 1, text
    final = _final_screen(text)
    assert re.search(r"✘ \[broken 2/2\] RUN .* ERROR", final), final
    assert re.search(r"\[slow 2/2\] RUN sleep 30 .* CANCELED", final), final
    block = final[final.index(" > [broken 2/2] RUN"):]
    lines = block.splitlines()
    assert [f"broken-line-{i}" for i in range(1, 16)] == [line for line in lines if line.startswith("broken-line-")]
    assert "exit status 3" in block.split("------")[-1]   # the error itself comes last
    assert "Traceback" not in text


def test_plain_on_a_pipe_is_unchanged(rb, busybox, tmp_path: Path) -> None:
    ctx = _context(tmp_path, PARALLEL.replace("sleep 1.5", "true"))
    built = rb("build", "--jobs", "1", str(ctx))
    assert built.returncode == 0, built.stderr
    lines = built.stdout.splitlines()
    assert lines[0] == "STEP 1/8: FROM localhost:5000/busybox:latest AS left"
    assert "left-says-hello" in lines and "COMMIT" in lines
    assert re.fullmatch(r"[0-9a-f]{64}", lines[-1])
    assert not any("\x1b" in line or "[+] Building" in line for line in lines)
    forced = rb("build", "--progress", "plain", "--jobs", "1", str(ctx))
    assert forced.returncode == 0 and "STEP 1/8" in forced.stdout and "Using cache" in forced.stdout
