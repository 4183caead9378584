"""--mount of each type, --tmpfs, --read-only and --device in real containers as the
unprivileged user, and their bad spellings as one-line errors (exit 125, as docker)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.rootless


def _ok(done) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


def _mount_line(out: str, path: str) -> list[str]:
    [line] = [line for line in out.splitlines() if line.split()[1:2] == [path]]
    return line.split()


def test_mount_bind_rw_and_readonly(rb, busybox, tmp_path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    (shared / "in").write_text("from host\n")
    out = _ok(rb("run", "--rm", "--mount", f"type=bind,source={shared},target=/s", busybox,
                 "sh", "-c", "cat /s/in && echo from container > /s/out"))
    assert out == "from host\n" and (shared / "out").read_text() == "from container\n"
    ro = rb("run", "--rm", "--mount", f"type=bind,src={shared},dst=/s,readonly", busybox, "touch", "/s/x")
    assert ro.returncode == 1 and "Read-only file system" in ro.stderr


def test_mount_tmpfs_and_tmpfs_flag_are_tmpfs(rb, busybox) -> None:
    out = _ok(rb("run", "--rm", "--mount", "type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770",
                 "--tmpfs", "/scratch:size=2m,exec", busybox, "sh", "-c",
                 "cat /proc/mounts; stat -c %a /t; echo x > /t/f && cat /t/f"))
    t = _mount_line(out, "/t")
    assert t[0] == "tmpfs" and t[2] == "tmpfs"
    assert {"nosuid", "nodev", "noexec", "size=1024k"} <= set(t[3].split(","))    # docker's defaults
    scratch = _mount_line(out, "/scratch")
    assert scratch[2] == "tmpfs" and "size=2048k" in scratch[3] and "noexec" not in scratch[3]
    assert out.splitlines()[-2:] == ["1770", "x"]
    grep = _ok(rb("run", "--rm", "--tmpfs", "/cache", busybox, "grep", " /cache ", "/proc/mounts"))
    assert grep.startswith("tmpfs /cache tmpfs ")


def test_read_only_root_with_writable_tmpfs_and_dev(rb, busybox) -> None:
    out = rb("run", "--name", "ro", "--read-only", "--tmpfs", "/tmp", busybox, "sh", "-c",
             "touch /x; echo root=$?; touch /tmp/y && echo tmp=ok; echo z > /dev/shm/z && echo shm=ok; "
             "echo n > /dev/null && echo null=ok; touch /etc/hostname && echo etc=ok")
    assert out.returncode == 0, out.stderr
    assert "touch: /x: Read-only file system" in out.stderr
    assert out.stdout.split() == ["root=1", "tmp=ok", "shm=ok", "null=ok", "etc=ok"]
    # as docker: without --tmpfs, /tmp is part of the read-only root
    tmp = rb("run", "--rm", "--read-only", busybox, "touch", "/tmp/y")
    assert tmp.returncode == 1 and "Read-only file system" in tmp.stderr
    [info] = json.loads(_ok(rb("inspect", "ro")))
    assert info["HostConfig"]["ReadonlyRootfs"] is True
    assert info["HostConfig"]["Tmpfs"] == {"/tmp": "noexec,nosuid,nodev"}


def test_device_is_bound_in(rb, busybox) -> None:
    out = _ok(rb("run", "--name", "dev", "--device", "/dev/null:/dev/mynull", busybox, "sh", "-c",
                 "echo data > /dev/mynull && echo written; stat -c %t,%T /dev/mynull"))
    assert out.split() == ["written", "1,3"]      # the null device's major, minor
    # no device cgroup rootless: r/w/m cannot be enforced, and the user is told so
    partial = rb("run", "--rm", "--device", "/dev/zero:/dev/z:r", busybox, "sh", "-c", "head -c 4 /dev/z | od -An -tx1")
    assert partial.stdout.split() == ["00"] * 4 and "are not enforced rootless" in partial.stderr
    [info] = json.loads(_ok(rb("inspect", "dev")))
    assert info["HostConfig"]["Devices"] == [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull",
                                              "CgroupPermissions": "rwm"}]


@pytest.mark.parametrize(("flags", "words"), [
    (["--mount", "type=bind,source=/etc"], 'for "--mount" flag: target is required'),
    (["--mount", "type=tmpfs,target=/t,colour=red"], "unexpected key 'colour'"),
    (["--mount", "type=bind,src=/nonexistent-dir,dst=/x"], "bind source path does not exist"),
    (["--mount", "type=volume,target=/t,tmpfs-size=1m"], "tmpfs-size is not allowed for a volume mount"),
    (["--tmpfs", "relative"], "must be absolute"),
    (["--tmpfs", "/t:size=lots"], "invalid size"),
    (["--device", "/dev/nonexistent"], "error gathering device information"),
    (["--device", "/etc/passwd"], "not a device node"),
    (["-v", "/x", "--mount", "target=/x"], "duplicate mount point: /x"),
])
def test_bad_storage_flags_are_one_line_errors(rb, busybox, flags, words) -> None:
    done = rb("run", "--rm", *flags, busybox, "true")
    assert done.returncode == 125, done.stderr
    assert done.stderr.count("\n") == 1 and words in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert _ok(rb("ps", "-aq")) == "" and _ok(rb("volume", "ls", "-q")) == ""


def test_mount_flags_are_checked_before_the_image_is_looked_for(rb) -> None:
    done = rb("run", "--rm", "--mount", "type=bind,source=/etc", "127.0.0.1:9/nowhere:latest", "true", timeout=30)
    assert done.returncode == 125 and "target is required" in done.stderr and done.stderr.count("\n") == 1
