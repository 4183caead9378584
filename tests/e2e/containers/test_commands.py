"""create, cp, restart, rename, port, top, diff, export, inspect and the run/create flags
of issue 17, as the unprivileged user against real containers."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import time

import pytest

pytestmark = pytest.mark.rootless


def ok(proc):
    assert proc.returncode == 0, proc.stderr
    return proc


def detached(rb, *args: str) -> str:
    return ok(rb("run", "-d", *args)).stdout.strip()


def binary(cli_argv: list[str], *args, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """The CLI with bytes in and out (tar streams)."""
    return subprocess.run([*cli_argv, *map(str, args)], input=stdin, capture_output=True, timeout=120, check=False)


def state(rb, ref: str) -> dict:
    return json.loads(ok(rb("inspect", "--type", "container", ref)).stdout)[0]["State"]


def test_create_makes_a_created_container_that_start_runs(rb, busybox, tmp_path) -> None:
    cidfile = tmp_path / "cid"
    cid = ok(rb("create", "--name", "made", "--cidfile", cidfile, "-l", "tier=web", busybox,
                "sh", "-c", "echo started; sleep 300")).stdout.strip()
    assert cidfile.read_text() == cid
    assert state(rb, "made")["Status"] == "created" and state(rb, "made")["Pid"] == 0
    assert "made" not in rb("ps").stdout
    line = next(line for line in ok(rb("ps", "-a")).stdout.splitlines() if "made" in line)
    assert "Created" in line
    # docker refuses an existing cidfile before creating anything
    again = rb("create", "--cidfile", cidfile, busybox, "true")
    assert again.returncode == 125 and "container ID file found" in again.stderr
    assert len(ok(rb("ps", "-aq")).stdout.split()) == 1
    ok(rb("start", "made"))
    s = state(rb, "made")
    assert s["Status"] == "running" and s["Running"] and s["Pid"] > 0
    assert ok(rb("logs", "made")).stdout == "started\n"
    assert json.loads(ok(rb("inspect", "-f", "{{json .Config.Labels}}", "made")).stdout) == {"tier": "web"}


def test_restart_runs_the_command_again(rb, busybox) -> None:
    cid = detached(rb, busybox, "sh", "-c", "date +%s%N >> /runs; sleep 300")
    first = state(rb, cid)["StartedAt"]
    assert ok(rb("restart", "-t", "1", cid)).stdout.strip() == cid
    s = state(rb, cid)
    assert s["Running"] and s["StartedAt"] > first
    time.sleep(0.3)
    assert len(ok(rb("exec", cid, "cat", "/runs")).stdout.split()) == 2
    # a stopped container is started by restart
    ok(rb("stop", "-t", "1", cid))
    ok(rb("restart", cid))
    assert state(rb, cid)["Running"]


def test_rename(rb, busybox) -> None:
    cid = detached(rb, "--name", "old", busybox, "sleep", "300")
    detached(rb, "--name", "taken", busybox, "sleep", "300")
    ok(rb("rename", "old", "new"))
    assert json.loads(ok(rb("inspect", cid)).stdout)[0]["Name"] == "/new"
    assert rb("inspect", "--type", "container", "old").returncode == 1
    clash = rb("rename", "new", "taken")
    assert clash.returncode == 125 and 'name "taken" is already in use' in clash.stderr
    bad = rb("rename", "new", "bad name")
    assert bad.returncode == 125 and "invalid container name" in bad.stderr
    assert rb("rename", "nosuch", "x").returncode != 0


def test_port_lists_nothing_without_published_ports(rb, busybox) -> None:
    cid = detached(rb, busybox, "sleep", "300")
    listed = rb("port", cid)
    assert (listed.returncode, listed.stdout, listed.stderr) == (0, "", "")
    one = rb("port", cid, "80")
    assert one.returncode == 1 and "No public port '80/tcp' published for" in one.stderr


def test_top_lists_the_containers_processes_with_ps_options(rb, busybox) -> None:
    cid = detached(rb, busybox, "sh", "-c", "sleep 301 & sleep 302")
    time.sleep(0.5)
    lines = ok(rb("top", cid)).stdout.splitlines()
    assert lines[0].split()[:3] == ["UID", "PID", "PPID"]
    body = "\n".join(lines[1:])
    assert "sleep 301" in body and "sleep 302" in body
    assert all("-m pytest" not in line for line in lines) and len(lines) < 8   # not the host's processes
    custom = ok(rb("top", cid, "-o", "pid,args")).stdout.splitlines()
    assert custom[0].split() == ["PID", "COMMAND"]
    assert any(line.split(None, 1)[1] == "sleep 301" for line in custom[1:])
    no_pid = rb("top", cid, "-o", "args")
    assert no_pid.returncode != 0 and "Couldn't find PID field in ps output" in no_pid.stderr
    ok(rb("stop", "-t", "0", cid))
    stopped = rb("top", cid)
    assert stopped.returncode != 0 and "is not running" in stopped.stderr


def test_diff_lists_added_changed_and_deleted(rb, busybox) -> None:
    cid = ok(rb("run", busybox, "sh", "-c", "echo hi > /hello; rm /etc/group; mkdir -p /tmp/d/e; "
                "echo x >> /etc/passwd")).stdout
    cid = ok(rb("ps", "-alq", "--no-trunc")).stdout.strip()
    assert ok(rb("diff", cid)).stdout.splitlines() == [
        "C /etc", "D /etc/group", "C /etc/passwd", "A /hello", "C /tmp", "A /tmp/d", "A /tmp/d/e"]


def test_export_is_the_whole_filesystem(rb, cli_argv, busybox, tmp_path) -> None:
    cid = detached(rb, busybox, "sh", "-c", "echo hi > /hello; rm /etc/group; sleep 300")
    time.sleep(0.3)
    out = tmp_path / "fs.tar"
    for stopped in (False, True):
        ok(rb("export", "-o", out, cid))
        with tarfile.open(out) as tar:
            names = set(tar.getnames())
            assert tar.extractfile("hello").read() == b"hi\n"
            assert tar.getmember("hello").uid == 0
        assert {"bin/busybox", "bin/sh", "etc/passwd"} <= names
        assert "etc/group" not in names and not any(n.startswith("proc/") for n in names)
        if not stopped:
            ok(rb("stop", "-t", "0", cid))
    piped = binary(cli_argv, "export", cid)
    assert piped.returncode == 0, piped.stderr
    with tarfile.open(fileobj=io.BytesIO(piped.stdout)) as tar:
        assert set(tar.getnames()) == names


def _tree(root) -> dict[str, tuple]:
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, root)
            kind = "l" if os.path.islink(path) else "d" if os.path.isdir(path) else "f"
            content = os.readlink(path) if kind == "l" else open(path).read() if kind == "f" else ""
            found[rel] = (kind, content, st.st_mode & 0o7777 if kind != "l" else 0)
    return found


@pytest.mark.parametrize("running", [True, False], ids=["running", "stopped"])
def test_cp_round_trips_a_tree_with_ownership(rb, busybox, tmp_path, running) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha\n")
    (src / "sub" / "b.sh").write_text("#!/bin/sh\n")
    (src / "sub" / "b.sh").chmod(0o750)
    (src / "link").symlink_to("a.txt")
    cid = detached(rb, busybox, "sleep", "300") if running else ok(rb("create", busybox, "sleep", "300")).stdout.strip()

    ok(rb("cp", src, f"{cid}:/in"))              # /in does not exist: the tree becomes /in
    ok(rb("cp", src, f"{cid}:/tmp"))             # /tmp exists: the tree goes to /tmp/src
    ok(rb("cp", "-a", src / "a.txt", f"{cid}:/kept.txt"))
    if not running:
        ok(rb("start", cid))
    owners = ok(rb("exec", cid, "sh", "-c", "stat -c '%n %u:%g %a' /in /in/sub/b.sh /tmp/src/a.txt /kept.txt")).stdout
    uid, gid = os.getuid(), os.getgid()
    assert owners.splitlines() == ["/in 0:0 755", "/in/sub/b.sh 0:0 750", "/tmp/src/a.txt 0:0 644",
                                   f"/kept.txt {uid}:{gid} 644"]
    assert ok(rb("exec", cid, "readlink", "/in/link")).stdout == "a.txt\n"
    if not running:
        ok(rb("stop", "-t", "0", cid))

    back = tmp_path / "back"
    ok(rb("cp", f"{cid}:/in", back))
    assert _tree(back) == _tree(src)
    assert all(os.lstat(os.path.join(dp, n)).st_uid == uid for dp, ds, fs in os.walk(back) for n in ds + fs)
    into = tmp_path / "into"
    into.mkdir()
    ok(rb("cp", f"{cid}:/in/.", into))           # /. : the contents only
    assert _tree(into) == _tree(src)
    ok(rb("cp", f"{cid}:/in/a.txt", into / "renamed.txt"))
    assert (into / "renamed.txt").read_text() == "alpha\n"


def test_cp_tar_streams_both_ways(rb, cli_argv, busybox) -> None:
    cid = detached(rb, busybox, "sleep", "300")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data, uid in (("x/one", b"1\n", 123), ("two", b"22\n", 0)):
            info = tarfile.TarInfo(name)
            info.size, info.uid, info.gid, info.mode = len(data), uid, uid, 0o640
            tar.addfile(info, io.BytesIO(data))
    ok(rb("exec", cid, "mkdir", "/dest"))
    done = binary(cli_argv, "cp", "-", f"{cid}:/dest", stdin=buf.getvalue())
    assert done.returncode == 0, done.stderr
    listing = ok(rb("exec", cid, "sh", "-c", "stat -c '%n %u %a' /dest/x/one /dest/two; cat /dest/x/one")).stdout
    assert listing.splitlines() == ["/dest/x/one 0 640", "/dest/two 0 640", "1"]   # the container's root owns them
    not_dir = rb("cp", "-", f"{cid}:/dest/two", input="")
    assert not_dir.returncode != 0 and "must be a directory" in not_dir.stderr

    out = binary(cli_argv, "cp", f"{cid}:/dest", "-")
    assert out.returncode == 0, out.stderr
    with tarfile.open(fileobj=io.BytesIO(out.stdout)) as tar:
        assert sorted(tar.getnames()) == ["dest", "dest/two", "dest/x", "dest/x/one"]
        assert tar.extractfile("dest/two").read() == b"22\n"
    missing = rb("cp", f"{cid}:/nope", "-")
    assert missing.returncode != 0 and "Could not find the file /nope in container" in missing.stderr
    both = rb("cp", "a", "b")
    assert both.returncode == 125 and "at least one container" in both.stderr


def test_cp_writes_whiteout_names_as_files_never_deletes(rb, cli_argv, busybox) -> None:
    """docker cp untars a plain archive: `.wh.passwd` is a file named so, not a deletion of
    /etc/passwd (only layers have whiteouts)."""
    cid = detached(rb, busybox, "sleep", "300")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in ("etc/.wh.passwd", "etc/.wh..wh..opq"):
            info = tarfile.TarInfo(name)
            info.size = 3
            tar.addfile(info, io.BytesIO(b"wh\n"))
    done = binary(cli_argv, "cp", "-", f"{cid}:/", stdin=buf.getvalue())
    assert done.returncode == 0, done.stderr
    listing = ok(rb("exec", cid, "sh", "-c", "ls -a /etc; cat /etc/.wh.passwd")).stdout.split()
    assert {"passwd", "group", ".wh.passwd", ".wh..wh..opq"} <= set(listing) and listing[-1] == "wh"


def test_inspect_tells_containers_from_images(rb, busybox) -> None:
    cid = detached(rb, "--name", "web", busybox, "sleep", "300")
    doc = json.loads(ok(rb("inspect", "web")).stdout)[0]
    assert doc["Id"] == cid and doc["Name"] == "/web" and doc["Path"] == "sleep" and doc["Args"] == ["300"]
    assert set(doc["State"]) == {"Status", "Running", "Paused", "Restarting", "OOMKilled", "Dead", "Pid",
                                 "ExitCode", "Error", "StartedAt", "FinishedAt"}
    for key in ("Created", "Image", "RestartCount", "Driver", "Mounts", "Config", "HostConfig", "NetworkSettings"):
        assert key in doc
    image_doc = json.loads(ok(rb("inspect", busybox)).stdout)[0]
    assert doc["Image"] == image_doc["Id"] and "RepoTags" in image_doc
    assert ok(rb("inspect", "-f", "{{.State.Status}} {{index .Config.Cmd 0}}", "web")).stdout == "running sleep\n"
    assert ok(rb("inspect", "--type", "image", "-f", "{{.Id}}", busybox)).stdout.strip() == image_doc["Id"]
    wrong = rb("inspect", "--type", "image", "web")
    assert wrong.returncode == 1 and "No such image: web" in wrong.stderr
    nothing = rb("inspect", "nosuch")
    assert nothing.returncode == 1 and "No such object: nosuch" in nothing.stderr
    bad = rb("inspect", "--type", "volume", "web")
    assert bad.returncode == 125 and "is not a valid value for --type" in bad.stderr


def test_detach_keys_are_checked(rb, busybox) -> None:
    bad = rb("run", "-d", "--detach-keys", "ctrl-1", busybox, "true")
    assert bad.returncode == 125 and "Invalid detach keys" in bad.stderr
    cid = ok(rb("create", "--detach-keys", "ctrl-a,x", busybox, "true")).stdout.strip()
    assert json.loads(ok(rb("inspect", cid)).stdout)[0]["Id"] == cid


def test_detach_keys_detach_a_tty_session(rb, cli_argv, busybox) -> None:
    import pexpect
    from ctrhelp import pexpect_env

    child = pexpect.spawn(cli_argv[0], [*cli_argv[1:], "run", "-it", "--name", "keys", "--detach-keys", "ctrl-a,x",
                                        busybox, "sh"], timeout=60, env=pexpect_env(), encoding="utf-8")
    child.expect(r"[#$] ")
    child.send("\x01x")                         # the container's own keys, not ctrl-p ctrl-q
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert state(rb, "keys")["Running"]
    # attach takes the container's keys unless given others
    again = pexpect.spawn(cli_argv[0], [*cli_argv[1:], "attach", "--detach-keys", "ctrl-b", "keys"], timeout=60,
                          env=pexpect_env(), encoding="utf-8")
    again.send("\n")
    again.expect(r"[#$] ")
    again.send("\x02")
    again.expect(pexpect.EOF)
    again.close()
    assert again.exitstatus == 0 and state(rb, "keys")["Running"]


def test_cp_of_the_root_of_a_running_container_leaves_out_proc_and_sys(rb, busybox, tmp_path) -> None:
    cid = detached(rb, busybox, "sleep", "300")
    ok(rb("cp", f"{cid}:/", tmp_path / "root"))
    assert (tmp_path / "root" / "bin" / "busybox").is_file()
    assert (tmp_path / "root" / "proc").is_dir() and not os.listdir(tmp_path / "root" / "proc")
    assert not os.listdir(tmp_path / "root" / "sys") and not os.listdir(tmp_path / "root" / "dev")
