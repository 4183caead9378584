"""--platform parsing and the binfmt_misc check for foreign RUN steps (read from this
machine's /proc/sys/fs/binfmt_misc)."""

from __future__ import annotations

import pytest

from rootless_build.builder import platform as bp
from rootless_build.errors import UsageError


def test_parse_platforms():
    assert bp.parse_platforms("linux/amd64, linux/arm64") == ["linux/amd64", "linux/arm64"]
    assert bp.parse_platforms(None) == []
    with pytest.raises(UsageError, match="given twice"):
        bp.parse_platforms("linux/arm64,linux/arm64")
    with pytest.raises(UsageError, match="expected os/arch"):
        bp.parse_platforms("linux")
    with pytest.raises(UsageError, match="only linux"):
        bp.parse_platforms("windows/amd64")


def test_check_platform_keeps_the_target():
    host = bp.host_platform()
    assert bp.check_platform(None) == host
    assert bp.check_platform(f"linux/{host[1]}") == host
    assert bp.check_platform("linux/arm/v7") == ("linux", "arm", "v7")
    args = bp.predefined_args(("linux", "arm64", ""))
    assert args["TARGETPLATFORM"] == "linux/arm64" and args["TARGETARCH"] == "arm64"
    assert args["BUILDPLATFORM"] == bp.format_platform(*host)


def test_native_and_missing_emulator():
    bp.require_runnable(bp.host_platform()[1])  # never needs an emulator
    bp.require_runnable("")
    with pytest.raises(UsageError, match=r"update-binfmts --enable qemu-nosuch"):
        bp.require_runnable("nosuch")


def test_registered_qemu_needs_the_f_flag(tmp_path, monkeypatch):
    (tmp_path / "qemu-aarch64").write_text("enabled\ninterpreter /x\nflags: P\noffset 0\n")
    (tmp_path / "qemu-riscv64").write_text("disabled\ninterpreter /x\nflags: PF\n")
    (tmp_path / "qemu-s390x").write_text("enabled\ninterpreter /x\nflags: OCF\n")
    monkeypatch.setattr(bp, "BINFMT_DIR", str(tmp_path))
    if bp.host_platform()[1] != "amd64":
        pytest.skip("the architectures below are foreign on amd64 only")
    with pytest.raises(UsageError, match="without the F flag"):
        bp.require_runnable("arm64")
    with pytest.raises(UsageError, match="update-binfmts"):
        bp.require_runnable("riscv64")
    bp.require_runnable("s390x")
