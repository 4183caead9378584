"""RUN as docker defines it: shell and exec forms, heredocs, the environment, WORKDIR, USER,
--network, empty steps, the cache, and a failing step's one-line error."""

from __future__ import annotations

import os
import struct

import pytest
from runcheck import DRIVERS, history_matches_layers, rootless_owner, store_is_clean

pytestmark = pytest.mark.rootless

FROM = "ARG REGISTRY\nFROM ${REGISTRY}/busybox:latest\n"


def _ok(done) -> None:
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr


def test_forms_heredocs_env_and_workdir(busybox, context, build, inspect):
    ctx = context(FROM + """\
ARG A=from-arg
ENV B=from-env
RUN echo "$A $B" > /ab.txt
RUN ["/bin/sh", "-c", "echo exec > /exec.txt"]
RUN <<EOF
echo one > /one.txt
EOF
RUN <<EOF cat > /two.txt
two $HOME
EOF
RUN <<'EOF' cat > /three.txt
three $HOME
EOF
RUN <<EOF
#!/bin/sh -e
echo "script $0" > /four.txt
EOF
WORKDIR /new/dir
RUN pwd > here.txt
SHELL ["/bin/sh", "-e", "-c"]
RUN echo "shell $0" > /shell.txt
""")
    _ok(build(ctx, "-t", "forms:1"))
    rootfs = inspect.unpack("forms:1")
    files = {name: (rootfs / name).read_text() for name in
             ("ab.txt", "exec.txt", "one.txt", "two.txt", "three.txt", "four.txt", "new/dir/here.txt", "shell.txt")}
    assert files == {"ab.txt": "from-arg from-env\n", "exec.txt": "exec\n", "one.txt": "one\n",
                     "two.txt": "two /root\n", "three.txt": "three $HOME\n", "four.txt": "script /dev/pipes/EOF\n",
                     "new/dir/here.txt": "/new/dir\n", "shell.txt": "shell /bin/sh\n"}
    assert not (rootfs / "dev" / "pipes").exists()
    config = inspect.config("forms:1")
    assert history_matches_layers(config)
    created = [h["created_by"] for h in config["history"] if not h.get("empty_layer")][1:]
    assert created[0] == '|1 A=from-arg /bin/sh -c echo "$A $B" > /ab.txt'
    assert created[1] == "|1 A=from-arg /bin/sh -c echo exec > /exec.txt"


@pytest.mark.parametrize("driver", DRIVERS)
def test_user_chown_and_an_empty_step(driver, busybox, context, build, inspect):
    ctx = context(FROM + """\
RUN echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1000:' >> /etc/group && \\
    echo 'staff2:x:2000:app' >> /etc/group && mkdir -p /home/app /srv/data && chown app:app /home/app /srv/data
USER app
RUN id > /home/app/id.txt && echo "$HOME" > /home/app/home.txt && touch /srv/data/by-app
USER 1234:5678
RUN id -u > /tmp/uid.txt; id -g >> /tmp/uid.txt
USER root
RUN true
RUN ls / > /dev/null
""")
    _ok(build(ctx, "-t", "user:1", driver=driver))
    rootfs = inspect.unpack("user:1")
    assert (rootfs / "home" / "app" / "id.txt").read_text() == "uid=1000(app) gid=1000(app) groups=2000(staff2)\n"
    assert (rootfs / "home" / "app" / "home.txt").read_text() == "/home/app\n"
    assert rootless_owner(rootfs / "srv" / "data" / "by-app") == (1000, 1000)
    assert (rootfs / "tmp" / "uid.txt").read_text() == "1234\n5678\n"
    assert rootless_owner(rootfs / "tmp" / "uid.txt") == (1234, 5678)
    config = inspect.config("user:1")
    assert history_matches_layers(config) and len(config["rootfs"]["diff_ids"]) == 4
    assert [h.get("empty_layer", False) for h in config["history"][-2:]] == [True, True]


def test_network_none_has_only_loopback_and_host_network_is_default(busybox, context, build, inspect):
    ctx = context(FROM + """\
RUN --network=none ls /sys/class/net > /none.txt && cat /etc/resolv.conf > /resolv-none.txt
RUN ls /sys/class/net > /host.txt && cat /etc/hostname > /hostname.txt
""")
    _ok(build(ctx, "-t", "net:1"))
    rootfs = inspect.unpack("net:1")
    assert (rootfs / "none.txt").read_text() == "lo\n"
    assert (rootfs / "resolv-none.txt").read_text() == ""
    assert set((rootfs / "host.txt").read_text().split()) - {"lo"}     # the host's interfaces
    # generated /etc files are bound over, never committed
    assert not (rootfs / "etc" / "hostname").exists() and not (rootfs / "etc" / "resolv.conf").exists()


def test_the_cache_follows_command_env_and_args(busybox, context, build):
    ctx = context(FROM + 'ARG X\nRUN echo "$X" > /x.txt\nRUN echo second > /second.txt\n')
    first = build(ctx, "-t", "c:1", "--build-arg", "X=1")
    _ok(first)
    again = build(ctx, "-t", "c:1", "--build-arg", "X=1")
    _ok(again)
    assert again.stdout.count("--> Using cache") == 3        # ARG and both RUNs
    assert again.stdout.splitlines()[-1] == first.stdout.splitlines()[-1]
    other = build(ctx, "-t", "c:2", "--build-arg", "X=2")
    _ok(other)
    assert other.stdout.count("--> Using cache") == 1        # only the ARG
    no_cache = build(ctx, "-t", "c:3", "--build-arg", "X=1", "--no-cache")
    _ok(no_cache)
    assert "Using cache" not in no_cache.stdout


def test_a_failing_run_says_where_and_shows_the_last_lines(rb, busybox, context, build):
    ctx = context(FROM + """\
RUN echo fine > /fine.txt
RUN for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo "line $i"; done; echo "the error" >&2; exit 3
RUN echo never
""")
    done = build(ctx, "-t", "fail:1")
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    original = 'RUN for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo "line $i"; done; echo "the error" >&2; exit 3'
    assert lines[0] == f"Error: Dockerfile:4: {original[:69]}...: exit status 3"     # long ones are cut
    assert lines[1:] == [f"  line {i}" for i in range(4, 13)] + ["  the error"]
    assert "line 1\n" in done.stdout             # streamed as it came
    assert "STEP 5/5" not in done.stdout
    assert store_is_clean(rb) == []
    assert rb("images", "-q").stdout.count("\n") == 1          # only busybox


def test_exec_of_a_missing_program_fails_clearly(busybox, context, build):
    done = build(context(FROM + 'RUN ["/no/such/program", "x"]\n'), "-t", "missing:1")
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == 'Error: Dockerfile:3: RUN ["/no/such/program", "x"]: exit status 127'
    assert "/no/such/program" in done.stderr


def test_run_on_scratch_with_a_static_binary(rb, context, build, inspect):
    """A stage with no base layers (only what COPY brought) runs too."""
    ctx = context('FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "mkdir", "/made"]\n')
    with open("/bin/busybox", "rb") as src:
        (ctx / "busybox").write_bytes(src.read())
    (ctx / "busybox").chmod(0o755)
    _ok(build(ctx, "-t", "scratch-run:1"))
    assert "made" in inspect.names("scratch-run:1")


def test_onbuild_run_of_a_base_image(busybox, context, build, inspect):
    """A Dockerfile without RUN whose base image brings an ONBUILD RUN: the build moves
    into the user namespace when it meets the trigger."""
    _ok(build(context(FROM + "ONBUILD RUN echo triggered > /t.txt\n"), "-t", "parent:1"))
    done = build(context("FROM parent:1\nLABEL x=y\n"), "-t", "child:1")
    _ok(done)
    assert (inspect.unpack("child:1") / "t.txt").read_text() == "triggered\n"


def test_storage_driver_from_the_config_file(rb, busybox, context, build, tmp_path):
    config = tmp_path / "config"
    cache = tmp_path / "xdg-cache"
    (config / "rootless-build").mkdir(parents=True)
    (config / "rootless-build" / "config.toml").write_text('storage_driver = "vfs"\n')
    ctx = context(FROM + "RUN echo hi > /hi.txt\n")
    _ok(build(ctx, "-t", "conf:1", env={"XDG_CONFIG_HOME": str(config), "XDG_CACHE_HOME": str(cache)}))
    (config / "rootless-build" / "config.toml").write_text('storage_driver = "zfs"\n')
    bad = build(ctx, "-t", "conf:2", env={"XDG_CONFIG_HOME": str(config)})
    assert bad.returncode == 125
    assert bad.stderr.strip() == (f"Error: {config}/rootless-build/config.toml: storage_driver = 'zfs': "
                                  "choose one of overlay, fuse-overlayfs, vfs")
    other = context(FROM + "RUN echo other > /hi.txt\n")
    _ok(build(other, "-t", "conf:3", env={"XDG_CONFIG_HOME": str(tmp_path / "none"),
                                          "XDG_CACHE_HOME": str(cache)}))
    # The probe is cached per user and place (XDG_CACHE_HOME, mirrored in the store's cache
    # under the same key), never per store.
    assert not (rb.root / "cache" / "storage-driver.json").exists()
    assert len(list((cache / "rootless-build").glob("probe-*.json"))) == 1


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the step calls setxattr(2) by its x86_64 number")
@pytest.mark.parametrize("driver", DRIVERS)
def test_xattrs_and_file_capabilities_are_kept(driver, pull, context, build, inspect):
    """Debian's perl calls setxattr(2) directly (minbase has neither setcap nor setfattr)."""
    pull("debian")
    ctx = context("""\
ARG REGISTRY
FROM ${REGISTRY}/debian:latest
RUN touch /attr /cap && perl <<'EOF'
my ($f, $n, $v) = ("/attr", "user.rb.note", "hello");
syscall(188, $f, $n, $v, length($v), 0) == 0 or die "user: $!";
# cap_net_bind_service, effective: a v2 capability (the kernel stores v3 in a user namespace)
my ($c, $k, $w) = ("/cap", "security.capability", pack("VVVVV", 0x02000001, 1 << 10, 0, 0, 0));
syscall(188, $c, $k, $w, length($w), 0) == 0 or die "cap: $!";
EOF
""")
    _ok(build(ctx, "-t", "xattr:1", driver=driver))
    members = inspect.members("xattr:1")
    assert members["attr"].pax_headers.get("SCHILY.xattr.user.rb.note") == "hello"
    capability = members["cap"].pax_headers.get("SCHILY.xattr.security.capability", "")
    assert capability.encode("utf-8", "surrogateescape") == struct.pack("<5I", 0x02000001, 1 << 10, 0, 0, 0)


def test_vfs_steps_stand_on_flat_trees_and_keep_their_copy(rb, busybox, context, build):
    """vfs: each step copies one plain tree of the image (no overlay whiteout on disk), and
    the step's copy becomes the next one's (deleting 20,000 files cost seconds)."""
    ctx = context(FROM + "RUN echo one > /one && rm /bin/vi\nRUN test ! -e /bin/vi && echo two > /two\n")
    done = build(ctx, "-t", "flat:1", driver="vfs")
    assert done.returncode == 0, done.stderr
    layers = rb.root / "layers"
    flats = list(layers.glob("*/flat"))
    assert len(flats) == 3 and not list(layers.glob("*/diff"))     # busybox and each step; no overlay form
    top = [p for p in flats if (p / "two").exists()]
    assert len(top) == 1 and (top[0] / "one").exists() and not (top[0] / "bin" / "vi").exists()
    assert not [p for p in top[0].rglob(".wh.*")] and not list((rb.root / "tmp").glob("*/run-*"))
