"""--secret id=X,env=VAR: a secret taken from the build's environment reaches the RUN that
mounts it (as an environment variable or a file) and appears nowhere else: not in the image
`save` writes (layers, config, history), not in the store, not in the cache key."""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile

import pytest

pytestmark = pytest.mark.rootless

FROM = "ARG REGISTRY\nFROM ${REGISTRY}/busybox:latest\n"
VALUE = "env-s3cr3t-value-77"


def _ok(done) -> None:
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr


def _grep_tree(root, needle: bytes) -> list[str]:
    found = []
    for directory, _, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            if stat.S_ISREG(os.lstat(path).st_mode) and os.access(path, os.R_OK):
                with open(path, "rb") as f:
                    if needle in f.read():
                        found.append(path)
    return found


def test_env_secret_is_seen_by_the_step_and_stored_nowhere(rb, busybox, context, build, inspect, tmp_path):
    digest = hashlib.sha256(VALUE.encode()).hexdigest()
    ctx = context(FROM + """\
RUN --mount=type=secret,id=api,env=API_TOKEN printf %s "$API_TOKEN" | sha256sum | cut -d' ' -f1 > /env.txt
RUN --mount=type=secret,id=api sha256sum /run/secrets/api | cut -d' ' -f1 > /file.txt && \\
    stat -c '%a' /run/secrets/api > /mode.txt
RUN env > /env-after.txt
""")
    done = build(ctx, "-t", "envsecret:1", "--secret", "id=api,env=MY_API_TOKEN",
                 env={"MY_API_TOKEN": VALUE})
    _ok(done)
    assert VALUE not in done.stdout + done.stderr
    rootfs = inspect.unpack("envsecret:1")
    assert (rootfs / "env.txt").read_text() == digest + "\n"
    assert (rootfs / "file.txt").read_text() == digest + "\n"
    assert (rootfs / "mode.txt").read_text() == "400\n"
    assert "API_TOKEN" not in (rootfs / "env-after.txt").read_text()
    assert not (rootfs / "run" / "secrets").exists()

    archive = tmp_path / "saved.tar"
    _ok(rb("save", "--compression", "none", "-o", archive, "envsecret:1"))
    with tarfile.open(archive) as outer:
        for member in outer.getmembers():
            if member.isfile():
                assert VALUE.encode() not in outer.extractfile(member).read(), member.name
    history = rb("history", "--no-trunc", "envsecret:1")
    _ok(history)
    assert VALUE not in history.stdout and "MY_API_TOKEN" not in history.stdout
    assert _grep_tree(rb.root, VALUE.encode()) == []

    # the cache key holds no secret: another value, same steps, all cached
    again = build(ctx, "-t", "envsecret:2", "--secret", "id=api,env=MY_API_TOKEN",
                  env={"MY_API_TOKEN": "another-value"})
    _ok(again)
    assert inspect.config("envsecret:1")["rootfs"] == inspect.config("envsecret:2")["rootfs"]


def test_env_secret_flag_errors_are_one_line(rb, busybox, context, build):
    ctx = context(FROM + "RUN --mount=type=secret,id=api,env=T true\n")
    unset = build(ctx, "--secret", "id=api,env=NOT_SET_ANYWHERE", env={"NOT_SET_ANYWHERE": None})
    assert unset.returncode != 0
    assert "environment variable NOT_SET_ANYWHERE is not set" in unset.stderr.strip().splitlines()[-1]
    bad = build(ctx, "--secret", "id=api,type=vault")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "keys are id, type (file or env), src, env" in bad.stderr
