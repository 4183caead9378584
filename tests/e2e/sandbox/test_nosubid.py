"""A user without subordinate ids (rbnosub under `make test`): the single-id fallback
works, says once what it limits, and a chown to another id fails with a clear message."""

from __future__ import annotations

import os
import subprocess

import pytest
from nsrun import ns_command, ns_env

pytestmark = pytest.mark.nosubid


def test_only_our_own_id_is_mapped_with_one_warning():
    proc = subprocess.run(ns_command("cat", "/proc/self/uid_map", "/proc/self/setgroups"),
                          env=ns_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0", str(os.getuid()), "1", "deny"]
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert "chown fails" in warnings[0] and "usermod --add-subuids" in warnings[0]


def test_chown_to_another_id_fails_clearly(in_ns, ns_tmp):
    result = in_ns("""
from rootless_build.errors import SandboxError
from rootless_build.sandbox.idmap import lchown_mapped
target = Path(ARGS[0]) / "f"
target.write_text("x")
lchown_mapped(target, 0, 0)          # our own id: fine
try:
    lchown_mapped(target, 1000, 1000)
    emit("no error")
except SandboxError as e:
    emit(str(e))
""", ns_tmp)
    assert result.startswith("potentially insufficient UIDs or GIDs available in user namespace "
                             "(requested 1000:1000 for ")
    assert "the namespace maps uids 0-0 and gids 0-0" in result
    assert "usermod --add-subuids" in result


def test_a_step_runs_as_root_and_another_user_is_refused(in_ns, rootfs, ns_tmp):
    result = in_ns("""
from rootless_build.errors import SandboxError
ok = step([ARGS[0]], ARGS[1] + "/upper", ARGS[1] + "/work", ["/bin/sh", "-c", "id -u; touch /f"])
try:
    step([ARGS[0]], ARGS[1] + "/upper", ARGS[1] + "/work", ["/bin/true"], user="1000")
    refused = None
except SandboxError as e:
    refused = str(e)
emit({"ok": ok, "refused": refused, "upper": listing(ARGS[1] + "/upper")})
""", rootfs, ns_tmp)
    assert result["ok"]["exit_code"] == 0 and result["ok"]["output"] == "0\n"
    assert "f" in result["upper"]
    assert result["refused"].startswith("potentially insufficient UIDs or GIDs available in user "
                                        "namespace (requested 1000:0 for the step's user)")
