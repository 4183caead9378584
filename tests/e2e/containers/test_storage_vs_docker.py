"""Storage flags and volumes beside a real docker (the session's dockerd, busybox from the
seeded registry): what --read-only leaves writable, --tmpfs's default flags, copy-up, the
shape of `volume inspect` and `volume ls`, and the in-use refusal."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.rootless

PROBE = ("for p in / /tmp /var/tmp /run /dev /dev/shm /etc /root; do "
         "if touch $p/.w 2>/dev/null; then echo $p=rw; else echo $p=ro; fi; done")


def ok(proc):
    assert proc.returncode == 0, proc.stderr
    return proc


def _flags(mounts: str, path: str) -> set[str]:
    [line] = [line for line in mounts.splitlines() if line.split()[1:2] == [path]]
    return {f for f in line.split()[3].split(",") if f in ("ro", "rw", "nosuid", "nodev", "noexec")}


@pytest.mark.parametrize("extra", [[], ["--tmpfs", "/tmp"]])
def test_read_only_leaves_what_docker_leaves_writable(rb, busybox, dockerd, extra) -> None:
    theirs = dockerd.docker("run", "--rm", "--read-only", *extra, "busybox", "sh", "-c", PROBE).stdout
    ours = ok(rb("run", "--rm", "--read-only", *extra, busybox, "sh", "-c", PROBE)).stdout
    assert ours == theirs


def test_tmpfs_flags_match_docker(rb, busybox, dockerd) -> None:
    args = ["--tmpfs", "/a", "--tmpfs", "/b:exec,size=1m", "--mount", "type=tmpfs,target=/c,tmpfs-size=1048576"]
    theirs = dockerd.docker("run", "--rm", *args, "busybox", "cat", "/proc/mounts").stdout
    ours = ok(rb("run", "--rm", *args, busybox, "cat", "/proc/mounts")).stdout
    for path in ("/a", "/b", "/c"):
        assert _flags(ours, path) == _flags(theirs, path), path


def test_copy_up_matches_docker(rb, busybox, dockerd) -> None:
    script = "ls -lnA /etc | tail -n +2 | awk '{print $1, $3, $4, $9}'"
    dockerd.docker("volume", "rm", "-f", "rb-etc", check=False)
    try:
        theirs = dockerd.docker("run", "--rm", "-v", "rb-etc:/etc", "busybox", "sh", "-c", script).stdout
    finally:
        dockerd.docker("volume", "rm", "-f", "rb-etc", check=False)
    ours = ok(rb("run", "--rm", "-v", "rb-etc:/etc", busybox, "sh", "-c", script)).stdout
    # docker's init layer also holds an /etc/mtab symlink (to /proc/mounts), which ours lacks
    theirs = "\n".join(line for line in theirs.splitlines() if not line.endswith(" mtab"))
    assert sorted(ours.splitlines()) == sorted(theirs.splitlines())


def test_volume_commands_have_dockers_shape(rb, busybox, dockerd) -> None:
    dockerd.docker("rm", "-f", "rb-user", check=False)
    dockerd.docker("volume", "rm", "-f", "rb-shape", check=False)
    dockerd.docker("volume", "create", "--label", "a=b", "rb-shape")
    try:
        [theirs] = json.loads(dockerd.docker("volume", "inspect", "rb-shape").stdout)
        their_table = dockerd.docker("volume", "ls", "--filter", "name=rb-shape").stdout.splitlines()
        dockerd.docker("create", "--name", "rb-user", "-v", "rb-shape:/x", "busybox", "true")
        their_rm = dockerd.docker("volume", "rm", "rb-shape", check=False)
    finally:
        dockerd.docker("rm", "-f", "rb-user", check=False)
        dockerd.docker("volume", "rm", "-f", "rb-shape", check=False)
    ok(rb("volume", "create", "--label", "a=b", "rb-shape"))
    [ours] = json.loads(ok(rb("volume", "inspect", "rb-shape")).stdout)
    assert list(ours) == list(theirs)
    for key in ("Driver", "Labels", "Name", "Options", "Scope"):
        assert ours[key] == theirs[key], key
    assert ours["Mountpoint"].endswith("/volumes/rb-shape/_data") and theirs["Mountpoint"].endswith(
        "/volumes/rb-shape/_data")
    our_table = ok(rb("volume", "ls", "--filter", "name=rb-shape")).stdout.splitlines()
    assert [line.split() for line in our_table] == [line.split() for line in their_table]
    ok(rb("create", "--name", "rb-user", "-v", "rb-shape:/x", busybox, "true"))
    our_rm = rb("volume", "rm", "rb-shape")
    assert our_rm.returncode == their_rm.returncode == 1
    # docker: "Error response from daemon: remove rb-shape: volume is in use - [ID]"
    cid = ok(rb("inspect", "--format", "{{.Id}}", "rb-user")).stdout.strip()
    assert f"remove rb-shape: volume is in use - [{cid}]" in our_rm.stderr
    assert "remove rb-shape: volume is in use - [" in their_rm.stderr


def test_mounts_in_inspect_look_like_dockers(rb, busybox, dockerd, tmp_path) -> None:
    dockerd.docker("rm", "-f", "rb-anon", check=False)
    flags = ["-v", "/anon", "-v", "rb-implicit:/named", "-v", "rb-ro:/ro:ro", "--mount", "src=rb-m,dst=/m",
             "--mount", "type=volume,src=rb-mro,dst=/mro,readonly", "-v", f"{tmp_path}:/h:ro",
             "--mount", f"type=bind,src={tmp_path},dst=/hb"]
    dockerd.docker("create", "--name", "rb-anon", *flags, "busybox", "true")
    try:
        their_mounts = json.loads(dockerd.docker("inspect", "--format", "{{json .Mounts}}", "rb-anon").stdout)
        their_volumes = {m["Destination"]: json.loads(dockerd.docker("volume", "inspect", m["Name"]).stdout)[0]
                         for m in their_mounts if m["Type"] == "volume"}
    finally:
        dockerd.docker("rm", "-f", "-v", "rb-anon", check=False)
        dockerd.docker("volume", "rm", "-f", "rb-implicit", "rb-ro", "rb-m", "rb-mro", check=False)
    ok(rb("create", "--name", "rb-anon", *flags, busybox, "true"))
    our_mounts = json.loads(ok(rb("inspect", "--format", "{{json .Mounts}}", "rb-anon")).stdout)
    assert sorted(map(sorted, our_mounts)) == sorted(map(sorted, their_mounts))   # the same keys
    for mine in our_mounts:
        [theirs] = [m for m in their_mounts if m["Destination"] == mine["Destination"]]
        for key in ("Type", "Driver", "Mode", "RW", "Propagation", "Source"):
            if key in theirs and (key != "Source" or theirs["Type"] == "bind"):
                assert mine[key] == theirs[key], (mine["Destination"], key)
        if mine["Type"] == "bind":
            continue
        [volume] = json.loads(ok(rb("volume", "inspect", mine["Name"])).stdout)
        for key in ("Labels", "Options"):
            assert volume[key] == their_volumes[mine["Destination"]][key], (mine["Destination"], key)
