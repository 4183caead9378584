"""`rootless-build unshare` and `info` through the real CLI, as the unprivileged user."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.rootless


def test_unshare_runs_as_namespace_root_with_the_full_range(rb, subuid_ranges):
    out = rb("unshare", "sh", "-c", "id -u; cat /proc/self/uid_map")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    assert lines[0] == "0"
    start, count = subuid_ranges[0]
    assert f"1 {start} {count}" in " ".join(out.stdout.split())


def test_unshare_passes_the_exit_status(rb):
    assert rb("unshare", "sh", "-c", "exit 7").returncode == 7


def test_info_reports_ranges_helpers_and_working_drivers(rb):
    out = rb("info", "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["user"]["subuid"] and data["user"]["id_mapping"] == "full"
    assert data["helpers"]["newuidmap"]["usable"]
    assert data["storage_drivers"]["overlay"] == "ok"
    assert data["storage_drivers"]["vfs"] == "ok"
    assert data["problems"] == []
