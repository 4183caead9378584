"""Build flags for RUN steps and the cache: --add-host, --shm-size, --ulimit, --cap-drop
(seen from inside the step), --env (in the image, not in the steps), --ignorefile,
--no-cache-filter and --cache-ttl (which steps run again)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.rootless

FROM = "ARG REGISTRY\nFROM ${REGISTRY}/busybox:latest\n"
NET_RAW = 13


def _ok(done) -> None:
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr


def _capbnd(text: str) -> int:
    return int(text.split()[1], 16)


def test_run_step_sees_hosts_shm_ulimit_and_caps(busybox, context, build, inspect):
    ctx = context(FROM + """\
RUN grep myhost /etc/hosts > /hosts.txt && df -k /dev/shm | tail -1 | awk '{print $2}' > /shm.txt && \\
    ulimit -n > /nofile.txt && ulimit -Hn > /nofile-hard.txt && grep CapBnd /proc/self/status > /capbnd.txt
""")
    _ok(build(ctx, "-t", "opts:1", "--add-host", "myhost:10.1.2.3", "--add-host", "other=::1",
              "--shm-size", "128m", "--ulimit", "nofile=512:1024", "--cap-drop", "net_raw"))
    rootfs = inspect.unpack("opts:1")
    assert (rootfs / "hosts.txt").read_text() == "10.1.2.3\tmyhost\n"
    assert (rootfs / "shm.txt").read_text() == "131072\n"
    assert (rootfs / "nofile.txt").read_text() == "512\n"
    assert (rootfs / "nofile-hard.txt").read_text() == "1024\n"
    assert not _capbnd((rootfs / "capbnd.txt").read_text()) & (1 << NET_RAW)
    # the defaults, without the flags
    _ok(build(ctx.parent / ctx.name, "-t", "opts:2", "--no-cache", "--add-host", "myhost:10.9.9.9"))
    rootfs = inspect.unpack("opts:2")
    assert (rootfs / "shm.txt").read_text() == "65536\n"
    assert _capbnd((rootfs / "capbnd.txt").read_text()) & (1 << NET_RAW)


def test_cap_drop_all(busybox, context, build, inspect):
    ctx = context(FROM + "RUN grep CapBnd /proc/self/status > /capbnd.txt\n")
    _ok(build(ctx, "-t", "noncaps:1", "--cap-drop", "ALL"))
    assert _capbnd((inspect.unpack("noncaps:1") / "capbnd.txt").read_text()) == 0


def test_bad_run_flags_are_one_line(busybox, context, build):
    ctx = context(FROM + "RUN true\n")
    for flags, message in ((["--add-host", "nohost"], "invalid --add-host 'nohost': expected HOST:IP"),
                           (["--add-host", "h:999.1.1.1"], "999.1.1.1 is not an IP address"),
                           (["--shm-size", "lots"], "invalid --shm-size 'lots'"),
                           (["--ulimit", "nofile=10:5"], "the soft limit cannot exceed the hard one"),
                           (["--ulimit", "bogus=1"], "invalid --ulimit 'bogus=1'"),
                           (["--cap-drop", "NOT_A_CAP"], "--cap-drop NOT_A_CAP: unknown capability"),
                           (["--cache-ttl", "soon"], "invalid --cache-ttl 'soon'"),
                           (["--ignorefile", "/nonexistent"], "--ignorefile /nonexistent: no such file")):
        done = build(ctx, *flags)
        assert done.returncode != 0, flags
        assert message in done.stderr.strip().splitlines()[-1], (flags, done.stderr)
        assert "Traceback" not in done.stderr


def test_env_is_set_in_the_image_only(busybox, context, build, inspect):
    ctx = context(FROM + "RUN echo \"[$FROM_FLAG]\" > /seen.txt\n")
    _ok(build(ctx, "-t", "env:1", "--env", "FROM_FLAG=yes", "--env", "PASSED", env={"PASSED": "through"}))
    env = inspect.config("env:1")["config"]["Env"]
    assert "FROM_FLAG=yes" in env and "PASSED=through" in env
    assert (inspect.unpack("env:1") / "seen.txt").read_text() == "[]\n"


def test_ignorefile_replaces_dockerignore(busybox, context, build, inspect, tmp_path):
    ctx = context(FROM + "COPY . /ctx/\n", files={"keep.txt": "k", "secret.txt": "s", ".dockerignore": "keep.txt\n"})
    ignore = tmp_path / "my.ignore"
    ignore.write_text("secret.txt\nmy.ignore\n")
    _ok(build(ctx, "-t", "ign:1", "--ignorefile", ignore))
    rootfs = inspect.unpack("ign:1")
    assert (rootfs / "ctx" / "keep.txt").exists()
    assert not (rootfs / "ctx" / "secret.txt").exists()


def test_no_cache_filter_and_cache_ttl(busybox, context, build):
    ctx = context("ARG REGISTRY\nFROM ${REGISTRY}/busybox:latest AS base\nRUN echo base > /b\n"
                  "FROM base AS final\nRUN echo final > /f\n")
    _ok(build(ctx, "-t", "nc:1"))
    again = build(ctx, "-t", "nc:2")
    _ok(again)
    assert again.stdout.count("Using cache") == 2
    filtered = build(ctx, "-t", "nc:3", "--no-cache-filter", "final")
    _ok(filtered)
    assert filtered.stdout.count("Using cache") == 1  # base's RUN only
    fresh = build(ctx, "-t", "nc:4", "--cache-ttl", "1h")
    _ok(fresh)
    assert fresh.stdout.count("Using cache") == 2
    expired = build(ctx, "-t", "nc:5", "--cache-ttl", "1ns")
    _ok(expired)
    assert expired.stdout.count("Using cache") == 0
