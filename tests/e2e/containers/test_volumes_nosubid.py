"""Volumes for a user with no subordinate ids (only the user mapped, as root): copy-up,
persistence, the storage flags and removal still work."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.nosubid


def test_volumes_and_storage_flags_with_the_single_id_mapping(rb, busybox) -> None:
    first = rb("run", "--rm", "-v", "etc:/etc", "--read-only", "--tmpfs", "/tmp", busybox, "sh", "-c",
               "echo kept > /etc/new; touch /tmp/ok && echo tmp; touch /x")
    assert first.returncode == 1 and first.stdout == "tmp\n" and "Read-only file system" in first.stderr
    again = rb("run", "--rm", "--mount", "type=volume,src=etc,dst=/e,readonly", busybox, "sh", "-c",
               "cat /e/new; head -1 /e/passwd")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == ["kept", "root:x:0:0:root:/root:/bin/sh"]     # copied up from the image
    assert rb("volume", "rm", "etc").returncode == 0
    assert rb("volume", "ls", "-q").stdout == ""
