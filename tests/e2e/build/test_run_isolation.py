"""A RUN step runs as docker builds run it (issue 11 item 6, issue 17 part 1): pid 1 is the
step's own command, no host environment or fd reaches it, docker's default capabilities,
no_new_privs, moby's seccomp profile, masked paths; --security=insecure only when the
build allows it."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.rootless

MARKER = {"ISO_SECRET_MARKER": "leaked-token-7f3a"}
PROBE = r"""FROM localhost:5000/busybox:latest
RUN echo environ:; tr '\0' '\n' < /proc/1/environ; \
    echo fds:; ls -l /proc/1/fd; \
    echo all-environ:; cat /proc/[0-9]*/environ | tr '\0' '\n'; \
    echo cmdline:; tr '\0' ' ' < /proc/1/cmdline; echo; \
    echo status:; grep -e ^Cap -e NoNewPrivs -e Seccomp: /proc/self/status; \
    echo keys=$(wc -c < /proc/keys); \
    unshare -U true || echo unshare-blocked
"""


def _context(tmp_path: Path, dockerfile: str) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    return ctx


def test_run_step_pid1_is_the_step_and_sees_nothing_of_the_host(rb, busybox, tmp_path) -> None:
    done = rb("build", "--no-cache", "-t", "probe", _context(tmp_path, PROBE), env=MARKER)
    assert done.returncode == 0, done.stderr
    out = done.stdout[done.stdout.index("\nenviron:\n"):]      # the step's output, after its STEP line
    assert "leaked-token-7f3a" not in out and "ISO_SECRET_MARKER" not in out
    fds = out.split("\nfds:\n", 1)[1].split("\nall-environ:\n", 1)[0]
    targets = [line.split("->", 1)[1].strip() for line in fds.splitlines() if "->" in line]
    assert targets and all(t.startswith(("/dev/null", "pipe:")) for t in targets), fds
    cmdline = out.split("\ncmdline:\n", 1)[1].split("\nstatus:\n", 1)[0].strip()
    assert cmdline.startswith("/bin/sh -c echo environ:") and "python" not in cmdline
    status = dict(line.replace(":", "").split() for line in
                  out.split("\nstatus:\n", 1)[1].split("\nkeys=", 1)[0].strip().splitlines())
    assert status["CapEff"] == status["CapBnd"] == "00000000a80425fb"
    assert (status["NoNewPrivs"], status["Seccomp"]) == ("1", "2")
    assert "keys=0" in out and "unshare-blocked" in out


def test_run_security_insecure_needs_allow(rb, busybox, tmp_path) -> None:
    ctx = _context(tmp_path, "FROM localhost:5000/busybox:latest\n"
                             "RUN --security=insecure grep CapEff /proc/self/status\n")
    refused = rb("build", "-t", "insecure", ctx)
    assert refused.returncode != 0 and refused.stderr.count("\n") == 1
    assert "Dockerfile:2" in refused.stderr and "--allow security.insecure" in refused.stderr
    allowed = rb("build", "--allow", "security.insecure", "-t", "insecure", ctx)
    assert allowed.returncode == 0, allowed.stderr
    assert "CapEff:\t000001ffffffffff" in allowed.stdout


def test_run_of_a_missing_command_fails_with_127(rb, busybox, tmp_path) -> None:
    ctx = _context(tmp_path, 'FROM localhost:5000/busybox:latest\nRUN ["nosuchcmd"]\n')
    done = rb("build", "-t", "missing", ctx)
    assert done.returncode != 0
    assert "127" in done.stderr
    assert 'exec: "nosuchcmd": executable file not found in $PATH' in done.stdout + done.stderr


def test_compiled_seccomp_program_is_kept_per_user(rb, busybox, tmp_path) -> None:
    """Compiled once per user (beside the probe's cache), not per store: a cold build in a
    fresh store does not pay the compile (~15-20 ms) again."""
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg-cache")}
    ctx = _context(tmp_path, "FROM localhost:5000/busybox:latest\nRUN grep Seccomp: /proc/self/status\n")
    first = rb("build", "--no-cache", "-t", "sc", ctx, env=env)
    assert first.returncode == 0, first.stderr
    (kept,) = (tmp_path / "xdg-cache" / "rootless-build" / "seccomp").glob("*.bpf")
    written = kept.stat().st_mtime_ns
    again = rb("build", "--no-cache", "-t", "sc", ctx, env=env)
    assert again.returncode == 0, again.stderr
    assert "Seccomp:\t2" in first.stdout and "Seccomp:\t2" in again.stdout
    assert kept.stat().st_mtime_ns == written                  # read, not compiled and written again
    assert not (rb.root / "cache" / "seccomp").exists()
