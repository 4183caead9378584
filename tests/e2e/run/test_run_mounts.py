"""RUN --mount: cache (kept between builds, never committed), bind (from the context, with
.dockerignore, and from a stage), secret (readable in the step, absent from layers, history
and the store) and tmpfs (its size is a limit)."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest
from runcheck import DRIVERS, store_is_clean

pytestmark = pytest.mark.rootless

FROM = "ARG REGISTRY\nFROM ${REGISTRY}/busybox:latest\n"


def _ok(done) -> None:
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr


def _all_layer_names(inspect, tag: str) -> list[str]:
    return [name for index in range(len(inspect.layers(tag))) for name in inspect.names(tag, layer=index)]


@pytest.mark.parametrize("driver", DRIVERS)
def test_cache_mount_persists_between_builds_and_is_never_committed(driver, rb, busybox, context, build, inspect):
    first = context(FROM + "RUN --mount=type=cache,target=/var/cache/thing "
                    "echo from-first > /var/cache/thing/seen && ls /var/cache/thing > /first.txt\n")
    _ok(build(first, "-t", "cache:1", driver=driver))
    second = context(FROM + "RUN --mount=type=cache,target=/var/cache/thing,sharing=locked "
                     "cat /var/cache/thing/seen > /second.txt\n")
    _ok(build(second, "-t", "cache:2", driver=driver))
    rootfs = inspect.unpack("cache:2")
    assert (rootfs / "second.txt").read_text() == "from-first\n"
    for tag in ("cache:1", "cache:2"):
        names = _all_layer_names(inspect, tag)
        assert not any(name.startswith("var/cache") for name in names), names
    assert not (rootfs / "var" / "cache").exists()
    assert store_is_clean(rb) == []


def test_cache_mount_ids_and_modes(busybox, context, build, inspect):
    ctx = context(FROM + """\
RUN --mount=type=cache,id=shared,target=/a,uid=1000,gid=1000,mode=0700 \\
    --mount=type=cache,id=shared,target=/b \\
    echo x > /a/f && cat /b/f > /seen.txt && stat -c '%u:%g %a' /a > /a-stat.txt
""")
    _ok(build(ctx, "-t", "ids:1"))
    rootfs = inspect.unpack("ids:1")
    assert (rootfs / "seen.txt").read_text() == "x\n"
    assert (rootfs / "a-stat.txt").read_text() == "1000:1000 700\n"


@pytest.mark.parametrize("driver", DRIVERS)
def test_bind_from_the_context(driver, busybox, context, build, inspect):
    ctx = context(FROM + """\
RUN --mount=type=bind,source=data,target=/src cp /src/hello.txt /copied.txt
RUN --mount=type=bind,target=/ctx ls /ctx /ctx/data > /listing.txt
RUN --mount=type=bind,target=/ctx,rw rm /ctx/data/hello.txt && echo scribble > /ctx/new.txt
""", files={"data/hello.txt": "hello\n", "data/ignored.txt": "no\n", ".dockerignore": "data/ignored.txt\n"})
    _ok(build(ctx, "-t", "bind:1", driver=driver))
    rootfs = inspect.unpack("bind:1")
    assert (rootfs / "copied.txt").read_text() == "hello\n"
    listing = (rootfs / "listing.txt").read_text().split()
    assert "hello.txt" in listing and "ignored.txt" not in listing and "Dockerfile" in listing
    assert not (rootfs / "src").exists() and not (rootfs / "ctx").exists()
    assert (ctx / "data" / "hello.txt").read_text() == "hello\n" and not (ctx / "new.txt").exists()
    # a bind mount's content is part of the step's cache key
    again = build(ctx, "-t", "bind:1", driver=driver)
    _ok(again)
    assert again.stdout.count("--> Using cache") == 3
    (ctx / "data" / "hello.txt").write_text("changed\n")
    changed = build(ctx, "-t", "bind:2", driver=driver)
    _ok(changed)
    assert changed.stdout.count("--> Using cache") == 0
    assert (inspect.unpack("bind:2") / "copied.txt").read_text() == "changed\n"
    (ctx / "data" / "ignored.txt").write_text("still ignored\n")
    ignored = build(ctx, "-t", "bind:2", driver=driver)
    assert ignored.stdout.count("--> Using cache") == 3


def test_bind_from_a_stage_and_an_image(busybox, context, build, inspect):
    ctx = context("""\
ARG REGISTRY
FROM ${REGISTRY}/busybox:latest AS src
RUN mkdir -p /out/sub && echo staged > /out/sub/f && echo top > /out/top
RUN rm /out/top && echo again > /out/sub/g
FROM ${REGISTRY}/busybox:latest
RUN --mount=type=bind,from=src,source=/out,target=/in ls -R /in > /got.txt && cat /in/sub/f /in/sub/g >> /got.txt
RUN --mount=type=bind,from=0,source=/out/sub/f,target=/one cat /one > /one.txt
RUN --mount=type=cache,from=src,source=/out/sub,target=/seeded cat /seeded/f > /seeded.txt
RUN --mount=type=bind,from=localhost:5000/busybox:latest,source=/bin,target=/image-bin \
    test -x /image-bin/busybox && echo image > /image.txt
""")
    _ok(build(ctx, "-t", "from:1"))
    rootfs = inspect.unpack("from:1")
    assert (rootfs / "got.txt").read_text().split() == ["/in:", "sub", "/in/sub:", "f", "g", "staged", "again"]
    assert (rootfs / "one.txt").read_text() == "staged\n"
    assert (rootfs / "seeded.txt").read_text() == "staged\n"
    assert (rootfs / "image.txt").read_text() == "image\n"
    assert not (rootfs / "in").exists() and not (rootfs / "image-bin").exists()


def test_secret_is_readable_and_never_stored(rb, busybox, context, build, inspect, tmp_path):
    secret = tmp_path / "token"
    secret.write_text("s3cr3t-value-42")
    digest = hashlib.sha256(b"s3cr3t-value-42").hexdigest()    # what the step may write down
    ctx = context(FROM + """\
RUN --mount=type=secret,id=tok sha256sum /run/secrets/tok | cut -d' ' -f1 > /sha.txt && \\
    stat -c '%a %u' /run/secrets/tok > /mode.txt
RUN --mount=type=secret,id=tok,target=/etc/tok,mode=0440,uid=1000 stat -c '%a %u' /etc/tok > /mode2.txt
RUN --mount=type=secret,id=tok,env=TOKEN printf %s "$TOKEN" | sha256sum | cut -d' ' -f1 > /env.txt
RUN --mount=type=secret,id=absent echo optional secrets may be missing > /optional.txt
""")
    _ok(build(ctx, "-t", "secret:1", "--secret", f"id=tok,src={secret}"))
    rootfs = inspect.unpack("secret:1")
    assert (rootfs / "sha.txt").read_text() == digest + "\n"
    assert (rootfs / "mode.txt").read_text() == "400 0\n"
    assert (rootfs / "mode2.txt").read_text() == "440 1000\n"
    assert (rootfs / "env.txt").read_text() == digest + "\n"
    assert (rootfs / "optional.txt").exists()
    assert not (rootfs / "run" / "secrets").exists() and not (rootfs / "etc" / "tok").exists()
    assert not any("tok" in name for name in _all_layer_names(inspect, "secret:1"))
    assert "s3cr3t" not in str(inspect.config("secret:1"))
    for directory, _, files in os.walk(rb.root):      # layers, configs, cache records, unpacked dirs
        for name in files:
            path = os.path.join(directory, name)
            if stat.S_ISREG(os.lstat(path).st_mode) and os.access(path, os.R_OK):
                with open(path, "rb") as f:
                    assert b"s3cr3t" not in f.read(), path
    required = context(FROM + "RUN --mount=type=secret,id=missing,required=true true\n")
    done = build(required, "-t", "secret:2")
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == ("Error: Dockerfile:3: RUN --mount=type=secret,id=missing,required=true "
                                           "true: secret missing is required: pass it with --secret "
                                           "id=missing,src=FILE or --secret id=missing,env=VAR")


def test_a_full_tmpfs_fails_the_step_clearly(rb, busybox, context, build, inspect):
    ctx = context(FROM + "RUN --mount=type=tmpfs,target=/fill,size=1m dd if=/dev/zero of=/fill/x bs=1k count=4096\n")
    done = build(ctx, "-t", "full:1")
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[0].startswith("Error: Dockerfile:3: RUN --mount=type=tmpfs,target=/fill,size=1m dd ")
    assert lines[0].endswith(": exit status 1")
    assert any("No space left on device" in line for line in lines[1:])
    assert store_is_clean(rb) == []
    ok = context(FROM + "RUN --mount=type=tmpfs,target=/fill,size=1m dd if=/dev/zero of=/fill/x bs=1k count=512 "
                 "&& df -k /fill | tail -1 > /df.txt\n")
    _ok(build(ok, "-t", "fits:1"))
    assert (inspect.unpack("fits:1") / "df.txt").read_text().split()[1] == "1024"
