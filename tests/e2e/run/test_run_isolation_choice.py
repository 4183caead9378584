"""--isolation and its defaults (environment, config file) reach RUN steps and `run` alike;
chroot isolation really runs a step chrooted, in this process's pid namespace."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.rootless

FROM = "FROM localhost:5000/busybox:latest\n"
# In a pid namespace of its own the shell is pid 1's child (a small number); chrooted, it
# has a pid of this machine's namespace.
PID_STEP = "RUN echo $$ > /pid && chown 1234:1234 /pid && rm /bin/vi\n"


def _pid(text: str) -> int:
    return int(text.strip())


def test_chroot_isolation_from_the_flag_the_environment_and_the_config_file(
        rb, busybox, context, build, inspect, tmp_path):
    config = tmp_path / "config"
    (config / "rootless-build").mkdir(parents=True)
    (config / "rootless-build" / "config.toml").write_text('isolation = "chroot"\n')
    ctx = context(FROM + PID_STEP)
    default = build(ctx, "-t", "iso:oci", "--no-cache")
    assert default.returncode == 0, default.stderr
    assert _pid((inspect.unpack("iso:oci") / "pid").read_text()) < 10
    for tag, args, env in (("flag", ["--isolation", "chroot"], {}),
                           ("env", [], {"ROOTLESS_BUILD_ISOLATION": "chroot"}),
                           ("config", [], {"XDG_CONFIG_HOME": str(config)})):
        done = build(ctx, "-t", f"iso:{tag}", "--no-cache", *args, env=env)
        assert done.returncode == 0, done.stderr
        assert done.stderr.count("chroot isolation") == 1          # said once, not per step
        root = inspect.unpack(f"iso:{tag}")
        assert _pid((root / "pid").read_text()) > 10
        assert not (root / "bin" / "vi").exists()
        members = inspect.members(f"iso:{tag}")
        owner = members.get("pid") or members["./pid"]
        assert (owner.uid, owner.gid) == (1234, 1234)


def test_run_reads_the_same_config_as_build(rb, busybox, tmp_path):
    config = tmp_path / "config"
    (config / "rootless-build").mkdir(parents=True)
    (config / "rootless-build" / "config.toml").write_text('isolation = "chroot"\n')
    chrooted = rb("run", "--rm", busybox, "sh", "-c", "echo $$", env={"XDG_CONFIG_HOME": str(config)})
    assert chrooted.returncode == 0, chrooted.stderr
    assert _pid(chrooted.stdout) > 10
    own_pids = rb("run", "--rm", busybox, "sh", "-c", "echo $$")
    assert own_pids.returncode == 0, own_pids.stderr
    assert _pid(own_pids.stdout) < 10
    (config / "rootless-build" / "config.toml").write_text('isolation = "jail"\n')
    bad = rb("run", "--rm", busybox, "true", env={"XDG_CONFIG_HOME": str(config)})
    assert bad.returncode == 125
    assert bad.stderr.strip().endswith("isolation = 'jail': choose one of oci, rootless, chroot")


def test_a_fully_cached_build_does_not_probe(rb, busybox, context, build, tmp_path):
    ctx = context(FROM + "RUN echo probed > /p\n")
    first_cache, second_cache = tmp_path / "cache1", tmp_path / "cache2"
    assert build(ctx, "-t", "probe:1", env={"XDG_CACHE_HOME": str(first_cache)}).returncode == 0
    assert list((first_cache / "rootless-build").glob("probe-*.json"))     # a RUN ran: probed
    again = build(ctx, "-t", "probe:1", env={"XDG_CACHE_HOME": str(second_cache)})
    assert again.returncode == 0 and "Using cache" in again.stdout
    assert not second_cache.exists()                                        # cached: no probe


def test_a_fresh_home_finds_the_probe_in_the_store(rb, busybox, context, build, tmp_path):
    """A CI job starts with an empty home but keeps its store on a volume: the probe's answer
    (keyed by user and place as in the home) is kept in the store's cache too."""
    first_cache, second_cache = tmp_path / "cache1", tmp_path / "cache2"
    assert build(context(FROM + "RUN echo one > /p\n"), env={"XDG_CACHE_HOME": str(first_cache)}).returncode == 0
    [probe] = (first_cache / "rootless-build").glob("probe-*.json")
    assert (rb.root / "cache" / probe.name).read_text() == probe.read_text()
    missed = build(context(FROM + "RUN echo two > /p\n"), env={"XDG_CACHE_HOME": str(second_cache)})
    assert missed.returncode == 0 and "Using cache" not in missed.stdout     # a RUN ran
    # not probed again (the home may get the compiled seccomp program, never a probe)
    assert not list(second_cache.glob("rootless-build/probe-*.json"))
