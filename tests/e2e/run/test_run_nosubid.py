"""A user without subordinate ids (rbnosub under `make test`): RUN as root works in the
single-id namespace with one warning; an id change to another user fails clearly."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.nosubid

FROM = "ARG REGISTRY\nFROM ${REGISTRY}/busybox:latest\n"


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "warning" in line]


def test_run_as_root_works_with_one_warning(busybox, context, build, inspect):
    done = build(context(FROM + "RUN echo hi > /hi.txt && id -u > /uid.txt\n"), "-t", "single:1")
    assert done.returncode == 0, done.stderr
    warnings = _warnings(done.stderr)
    assert len(warnings) == 1, done.stderr
    assert "only your own id is mapped" in warnings[0] and "usermod --add-subuids" in warnings[0]
    rootfs = inspect.unpack("single:1")
    assert (rootfs / "hi.txt").read_text() == "hi\n" and (rootfs / "uid.txt").read_text() == "0\n"
    cached = build(context(FROM + "RUN echo hi > /hi.txt && id -u > /uid.txt\n"), "-t", "single:1")
    # a fully cached build runs nothing, so it never enters the namespace: nothing to warn of
    assert cached.returncode == 0 and _warnings(cached.stderr) == [], cached.stderr
    assert "Using cache" in cached.stdout


def test_chown_to_another_id_fails_clearly(busybox, context, build):
    done = build(context(FROM + "RUN touch /f && chown 1000 /f\n"), "-t", "chown:1")
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    errors = lines[lines.index(next(line for line in lines if line.startswith("Error: "))):]
    assert errors[0] == "Error: Dockerfile:3: RUN touch /f && chown 1000 /f: exit status 1"
    assert any("Invalid argument" in line for line in errors[1:])
    assert errors[-1].startswith("hint: only one id is mapped in the user namespace")
    assert "potentially insufficient UIDs" in errors[-1] and "usermod --add-subuids" in errors[-1]


def test_user_outside_the_mapped_ids_fails_clearly(busybox, context, build):
    done = build(context(FROM + "USER 1000\nRUN true\n"), "-t", "user:1")
    assert done.returncode == 1
    error = next(line for line in done.stderr.splitlines() if line.startswith("Error: "))
    assert error.startswith("Error: Dockerfile:4: RUN true: potentially insufficient UIDs or GIDs available "
                            "in user namespace (requested 1000:0 for the step's user)")
    assert "usermod --add-subuids" in error
