"""The bench cases with RUN steps, built by the CLI on each storage driver (bigfile has no
RUN: the build tests cover it), checked with umoci unpack --rootless, tar listings of the
layers and a throwaway rootless podman; then built again, all from cache."""

from __future__ import annotations

import pytest
from runcheck import DRIVERS, history_matches_layers, rootless_owner, store_is_clean

pytestmark = pytest.mark.rootless


def _cold_then_warm(build, context, tag: str, driver: str | None):
    cold = build(context, "-t", tag, driver=driver)
    assert cold.returncode == 0, cold.stdout[-3000:] + cold.stderr
    warm = build(context, "-t", tag, driver=driver)
    assert warm.returncode == 0, warm.stderr
    steps = [line for line in warm.stdout.splitlines() if line.startswith("STEP ")]
    cached = [line for line in warm.stdout.splitlines() if line.startswith("--> Using cache")]
    froms = [line for line in steps if ": FROM " in line]
    assert len(cached) == len(steps) - len(froms)          # every step but FROM
    assert warm.stdout.splitlines()[-1] == cold.stdout.splitlines()[-1]   # the same image
    return cold


@pytest.mark.parametrize("driver", DRIVERS)
def test_busybox_steps(driver, rb, busybox, case, build, inspect, podman):
    context = case("busybox-steps")
    cold = _cold_then_warm(build, context, "busybox-steps:1", driver)
    assert "Using cache" not in cold.stdout
    config = inspect.config("busybox-steps:1")
    assert config["config"]["User"] == "app" and config["config"]["WorkingDir"] == "/opt/app/data"
    # base, WORKDIR $APP_HOME (creates /opt/app, as BuildKit), COPY, 3 RUNs
    assert len(config["rootfs"]["diff_ids"]) == 6 and history_matches_layers(config)
    runs = [h for h in config["history"] if h["created_by"].startswith("/bin/sh -c ")
            and "#(nop)" not in h["created_by"]]
    assert len(runs) == 3 and not any(h.get("empty_layer") for h in runs)
    chown_layer = inspect.members("busybox-steps:1", layer=4)
    assert {name: (m.uid, m.gid) for name, m in chown_layer.items() if name.startswith("opt/app")} == {
        "opt/app": (1000, 1000), "opt/app/app.sh": (1000, 1000), "opt/app/data": (1000, 1000),
        "opt/app/data/greeting.txt": (1000, 1000)}
    assert {"etc/passwd", "etc/group"} <= set(chown_layer)
    uid_layer = inspect.members("busybox-steps:1", layer=5)
    assert (uid_layer["opt/app/data/uid.txt"].uid, uid_layer["opt/app/data/uid.txt"].gid) == (1000, 1000)
    rootfs = inspect.unpack("busybox-steps:1")
    app = rootfs / "opt" / "app"
    assert rootless_owner(app) == (1000, 1000) and rootless_owner(app / "data" / "uid.txt") == (1000, 1000)
    assert rootless_owner(rootfs / "etc" / "passwd") == (0, 0)
    assert (app / "app.sh").stat().st_mode & 0o777 == 0o755
    assert (app / "data" / "uid.txt").read_text() == "1000\n"
    assert (app / "data" / "greeting.txt").read_text() == "hello world\n"
    ran = podman.run("busybox-steps:1")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "app: hello world from /opt/app/data as uid 1000, args: --greet\nhello world\n"
    assert store_is_clean(rb) == []


@pytest.mark.parametrize("driver", DRIVERS)
def test_whiteout(driver, rb, busybox, case, build, inspect, podman):
    context = case("whiteout")
    _cold_then_warm(build, context, "whiteout:1", driver)
    config = inspect.config("whiteout:1")
    assert len(config["rootfs"]["diff_ids"]) == 4 and history_matches_layers(config)
    assert config["history"][-1]["empty_layer"] is True      # the last RUN only tests
    deletions = inspect.names("whiteout:1", layer=2)
    assert "bin/.wh.vi" in deletions and "opt/tree/.wh.a.txt" in deletions
    replaced = inspect.names("whiteout:1", layer=3)
    assert len(replaced) == len(set(replaced))                  # no entry twice
    assert "opt/tree/replace/new.txt" in replaced
    # overlay drivers see a replaced directory (opaque); vfs's metadata diff whiteouts its children
    assert ("opt/tree/replace/.wh..wh..opq" in replaced or
            {"opt/tree/replace/.wh.old.txt", "opt/tree/replace/.wh.sub"} <= set(replaced))
    rootfs = inspect.unpack("whiteout:1")
    assert not (rootfs / "bin" / "vi").exists() and (rootfs / "bin" / "busybox").exists()
    assert not (rootfs / "opt" / "tree" / "a.txt").exists()
    assert (rootfs / "opt" / "tree" / "b.txt").read_text() == "b\n"
    assert (rootfs / "opt" / "tree" / "keep" / "k.txt").read_text() == "k\n"
    assert sorted(p.name for p in (rootfs / "opt" / "tree" / "replace").iterdir()) == ["new.txt"]
    ran = podman.run("whiteout:1", "sh", "-c", "ls /opt/tree /opt/tree/replace; test -e /bin/vi || echo no-vi")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["/opt/tree:", "b.txt", "keep", "replace", "/opt/tree/replace:", "new.txt",
                                  "no-vi"]
    assert store_is_clean(rb) == []


@pytest.mark.parametrize("driver", DRIVERS)
def test_manyfiles(driver, rb, busybox, case, build, inspect, request):
    context = case("manyfiles")
    _cold_then_warm(build, context, "manyfiles:1", driver)
    names = inspect.names("manyfiles:1")
    assert len([n for n in names if n.startswith("data/d") and "/f" in n]) == 20000
    rootfs = inspect.unpack("manyfiles:1")
    assert (rootfs / "data" / "d42" / "f199").read_text() == "file 42/199\n"
    assert sum(1 for _ in (rootfs / "data").rglob("f*")) == 20000
    if driver == "overlay":     # podman copies the 20,000 files again: once is enough
        ran = request.getfixturevalue("podman").run("manyfiles:1", "sh", "-c", "find /data -type f | wc -l")
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.strip() == "20000"
    assert store_is_clean(rb) == []


@pytest.mark.parametrize("driver", DRIVERS)
def test_multistage(driver, rb, busybox, case, build, inspect, podman):
    context = case("multistage")
    _cold_then_warm(build, context, "multistage:1", driver)
    rootfs = inspect.unpack("multistage:1")
    report = (rootfs / "data" / "report.txt").read_text()
    assert report.startswith("built in stage 'build'\nline 0\n") and report.endswith("line 99\n")
    assert (rootfs / "data" / "second.txt").read_text() == "from the second stage\n"
    assert (rootfs / "data" / "src.tar").stat().st_size > 0 and (rootfs / "bin" / "busybox").is_file()
    ran = podman.run("multistage:1")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == report + "from the second stage\n"
    assert store_is_clean(rb) == []


def test_debian_apt(rb, pull, case, build, inspect, podman):
    """apt-get from the Debian mirror inside a rootless RUN (network, apt's _apt user), on
    the default (detected) driver."""
    pull("debian")
    context = case("debian-apt")
    cold = build(context, "-t", "debian-apt:1")
    assert cold.returncode == 0, cold.stdout[-3000:] + cold.stderr
    assert "Setting up jq" in cold.stdout
    rootfs = inspect.unpack("debian-apt:1")
    assert (rootfs / "case.txt").read_text() == "debian-apt\n"
    assert (rootfs / "usr" / "bin" / "jq").is_file()
    assert not any((rootfs / "var" / "lib" / "apt" / "lists").glob("*Packages*"))
    ran = podman.run("debian-apt:1")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("jq-1.")
    warm = build(context, "-t", "debian-apt:1")
    assert warm.returncode == 0 and warm.stdout.count("--> Using cache") == 4, warm.stdout
    assert store_is_clean(rb) == []
