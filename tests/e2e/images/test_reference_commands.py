"""Malformed references are refused by every command that takes one, with docker's
message on one line, and the store is left as it was."""

from __future__ import annotations

import pytest

BUSYBOX = "localhost:5000/busybox:latest"
LOWER = "invalid reference format: repository name must be lowercase"

pytestmark = pytest.mark.rootless


def _refused(proc, message: str) -> None:
    assert proc.returncode != 0, proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


@pytest.mark.parametrize("args,message", [
    (("tag", BUSYBOX, "UPPER/case"), LOWER),
    (("tag", BUSYBOX, "localhost:99999/x"), "invalid reference format: invalid port 99999"),
    (("tag", BUSYBOX, "a" * 300), "must not be more than 255 characters"),
    (("tag", BUSYBOX, "x@sha256:" + "a" * 40), "invalid checksum digest length"),
    (("rmi", "UPPER/case"), LOWER),
    (("rmi", "sha256:zz"), "invalid checksum digest length"),
    (("inspect", "sha256:zz"), "invalid checksum digest length"),
    (("push", ""), "invalid reference format"),
    (("push", BUSYBOX, "UPPER/case"), LOWER),
    (("pull", "UPPER/case"), LOWER),
    (("pull", "localhost:99999/x"), "invalid port 99999"),
    (("run", "--rm", "UPPER/case", "true"), LOWER),
    (("import", "/dev/null", "UPPER/case"), LOWER),
], ids=lambda v: " ".join(v)[:40] if isinstance(v, tuple) else v[:20])
def test_commands_refuse_malformed_references(rb, busybox, args, message):
    before = rb("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout
    _refused(rb(*args, timeout=60), message)
    assert rb("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout == before
    assert rb("fsck").returncode == 0


def test_build_refuses_a_malformed_tag(rb, busybox, tmp_path):
    (tmp_path / "Dockerfile").write_text(f"FROM {BUSYBOX}\nCMD [\"true\"]\n")
    _refused(rb("build", "-t", "UPPER/case", str(tmp_path)), LOWER)


def test_valid_references_still_work(rb, busybox):
    assert rb("tag", BUSYBOX, "localhost:5000/a__b/c.d-e:T_1").returncode == 0
    assert rb("rmi", "localhost:5000/a__b/c.d-e:T_1").returncode == 0
    assert rb("inspect", "--format", "{{.Id}}", busybox).stdout.strip() == busybox
