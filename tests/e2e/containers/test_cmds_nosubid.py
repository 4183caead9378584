"""diff, cp and export for a user with no subordinate ids (only the user is mapped, as the
container's root): the same answers, and cp -a of an unmapped owner is a one-line error."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.nosubid


def ok(proc):
    assert proc.returncode == 0, proc.stderr
    return proc


def test_diff_and_cp_with_the_single_id_mapping(rb, busybox, tmp_path) -> None:
    ok(rb("run", "--name", "lone", busybox, "sh", "-c", "echo hi > /hello; rm /etc/group"))
    assert ok(rb("diff", "lone")).stdout.splitlines() == ["C /etc", "D /etc/group", "A /hello"]
    (tmp_path / "f").write_text("content\n")
    ok(rb("cp", tmp_path / "f", "lone:/f"))
    ok(rb("cp", "lone:/f", tmp_path / "back"))
    assert (tmp_path / "back").read_text() == "content\n"
    kept = rb("cp", "-a", tmp_path / "f", "lone:/kept")
    assert kept.returncode == 1 and kept.stderr.count("\n") == 1 and "not mapped" in kept.stderr
    exported = ok(rb("export", "-o", tmp_path / "fs.tar", "lone"))
    assert exported.stdout == "" and (tmp_path / "fs.tar").stat().st_size > 0
