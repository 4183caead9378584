"""Subordinate id files, helper checks and the maps we would write."""

from __future__ import annotations

import os
import stat

import pytest

from rootless_build.sandbox import idmap
from rootless_build.sandbox.idmap import IdRange, MapEntry


@pytest.fixture
def subid_files(tmp_path, monkeypatch):
    def write(subuid: str, subgid: str | None = None):
        (tmp_path / "subuid").write_text(subuid)
        (tmp_path / "subgid").write_text(subuid if subgid is None else subgid)
        monkeypatch.setattr(idmap, "SUBUID", tmp_path / "subuid")
        monkeypatch.setattr(idmap, "SUBGID", tmp_path / "subgid")
    return write


def test_ranges_by_name_and_by_uid_in_file_order(tmp_path):
    path = tmp_path / "subuid"
    path.write_text("other:100000:65536\nalice:200000:65536\n# comment\n1234:300000:10\n"
                    "alice:bad:line\nalice:400000:0\nalice:500000:5\n")
    assert idmap.read_ranges(path, "alice", 1234) == [
        IdRange(200000, 65536), IdRange(300000, 10), IdRange(500000, 5)]
    assert idmap.read_ranges(path, "bob", 99) == []
    assert idmap.read_ranges(tmp_path / "missing", "alice", 1) == []


def test_full_mapping_concatenates_ranges(subid_files, monkeypatch):
    user, uid, gid = idmap.current_user()
    if uid == 0:
        pytest.skip("root maps the identity, not ranges")
    subid_files(f"{user}:200000:1000\n{user}:500000:10\n")
    monkeypatch.setattr(idmap, "find_helper", lambda name: idmap.Path(f"/usr/bin/{name}"))
    monkeypatch.setattr(idmap, "helper_usable", lambda path: True)
    mapping = idmap.plan_mapping()
    assert mapping.use_helpers and not mapping.single and mapping.warning == ""
    assert mapping.uid_map == (MapEntry(0, uid, 1), MapEntry(1, 200000, 1000), MapEntry(1001, 500000, 10))
    assert mapping.gid_map[0] == MapEntry(0, gid, 1)


@pytest.mark.parametrize("case,expect", [
    ("no-range", "no subordinate ids for"),
    ("no-helper", "apt-get install uidmap"),
    ("not-setuid", "chmod u+s"),
])
def test_single_id_fallback_says_what_it_limits_and_the_fix(case, expect, subid_files, monkeypatch):
    user, uid, gid = idmap.current_user()
    if uid == 0:
        pytest.skip("root maps the identity")
    subid_files("" if case == "no-range" else f"{user}:200000:65536\n")
    monkeypatch.setattr(idmap, "find_helper",
                        lambda name: None if case == "no-helper" else idmap.Path(f"/usr/bin/{name}"))
    monkeypatch.setattr(idmap, "helper_usable", lambda path: case != "not-setuid")
    mapping = idmap.plan_mapping()
    assert mapping.single and not mapping.use_helpers
    assert mapping.uid_map == (MapEntry(0, uid, 1),) and mapping.gid_map == (MapEntry(0, gid, 1),)
    assert "chown fails" in mapping.warning and expect in mapping.warning
    assert "\n" not in mapping.warning


def test_suggested_range_starts_after_every_allocated_one(subid_files):
    subid_files("a:100000:65536\nb:200000:65536\n", "c:165536:1000\n")
    assert idmap.suggest_free_range() == IdRange(265536, 65536)
    assert idmap.subid_fix("zed") == "usermod --add-subuids 265536-331071 --add-subgids 265536-331071 zed"


def test_helper_usable_needs_setuid_root_or_capabilities(tmp_path):
    plain = tmp_path / "newuidmap"
    plain.write_text("#!/bin/sh\n")
    plain.chmod(0o755)
    assert not idmap.helper_usable(plain)
    assert not idmap.helper_usable(tmp_path / "absent")
    real = idmap.find_helper("newuidmap")
    if real is not None and real.stat().st_mode & stat.S_ISUID:
        assert idmap.helper_usable(real)


def test_current_process_map_is_readable_and_describable():
    entries = idmap.read_proc_map("uid")
    assert entries and all(e.count > 0 for e in entries)
    assert idmap.is_mapped(os.getuid() if entries[0].outside == 0 else 0)
    assert idmap.describe_map([MapEntry(0, 1000, 1), MapEntry(1, 200000, 65536)]) == "0-0, 1-65536"
