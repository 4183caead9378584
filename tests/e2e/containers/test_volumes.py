"""Named and anonymous volumes, as the unprivileged user with real containers: lifecycle,
persistence across containers, docker's copy-up of image content with its owners,
removal refused while in use, rm -v / run --rm, prune, ls filters and formats."""

from __future__ import annotations

import json
import os

import pytest

pytestmark = pytest.mark.rootless


def _ok(done) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


def _host_id(ranges: list[tuple[int, int]], inner: int) -> int:
    """Container id `inner` (> 0) on the host: the first subordinate range starts at id 1."""
    start, _count = ranges[0]
    return start + inner - 1


def _image_with_volume(rb, busybox) -> str:
    """busybox + /data/sub (owned 1000:2000) declared as a VOLUME."""
    _ok(rb("run", "--name", "maker", busybox, "sh", "-c",
           "mkdir -p /data/sub && echo from-image > /data/sub/f && chown -R 1000:2000 /data/sub"))
    _ok(rb("commit", "--change", "VOLUME /data", "maker", "volimg"))
    _ok(rb("rm", "maker"))
    return "volimg"


def test_volume_lifecycle_and_persistence(rb, busybox, subuid_ranges, subgid_ranges) -> None:
    assert _ok(rb("volume", "create", "--label", "team=db", "data")).strip() == "data"
    [info] = json.loads(_ok(rb("volume", "inspect", "data")))
    assert info["Name"] == "data" and info["Driver"] == "local" and info["Scope"] == "local"
    assert info["Labels"] == {"team": "db"} and info["Options"] == {}     # docker's, for volume create
    assert info["Mountpoint"] == str(rb.root / "volumes" / "data" / "_data")
    assert info["CreatedAt"].endswith("Z")
    _ok(rb("run", "--name", "writer", "-v", "data:/data", busybox, "sh", "-c",
           "echo kept > /data/f && chown 1234:5678 /data/f"))
    out = _ok(rb("run", "--name", "reader", "--mount", "type=volume,src=data,dst=/v", busybox,
                 "sh", "-c", "cat /v/f; stat -c %u:%g /v/f"))
    assert out.split() == ["kept", "1234:5678"]
    # on the host: the subordinate ids the container's 1234:5678 map to
    st = os.stat(rb.root / "volumes" / "data" / "_data" / "f")
    assert (st.st_uid, st.st_gid) == (_host_id(subuid_ranges, 1234), _host_id(subgid_ranges, 5678))

    refused = rb("volume", "rm", "data")
    assert refused.returncode != 0
    assert refused.stderr.count("\n") == 1 and "volume is in use" in refused.stderr
    assert "writer" in refused.stderr and "reader" in refused.stderr
    assert "Traceback" not in refused.stderr
    _ok(rb("rm", "writer", "reader"))
    assert _ok(rb("volume", "rm", "data")).strip() == "data"
    assert not (rb.root / "volumes" / "data").exists()      # sub-id files removed too
    gone = rb("volume", "inspect", "data")
    assert gone.returncode == 1 and "no such volume: data" in gone.stderr
    assert rb("volume", "rm", "-f", "data").returncode == 0


def test_copy_up_fills_a_new_volume_with_the_image_content_and_owners(rb, busybox, subuid_ranges) -> None:
    image = _image_with_volume(rb, busybox)
    out = _ok(rb("run", "--name", "anon", image, "sh", "-c", "cat /data/sub/f; stat -c %u:%g /data/sub/f"))
    assert out.split() == ["from-image", "1000:2000"]
    [anonymous] = _ok(rb("volume", "ls", "-q")).split()
    assert len(anonymous) == 64 and all(c in "0123456789abcdef" for c in anonymous)
    [mount] = json.loads(_ok(rb("inspect", "--format", "{{json .Mounts}}", "anon")))
    assert (mount["Type"], mount["Name"], mount["Destination"]) == ("volume", anonymous, "/data")
    host_file = rb.root / "volumes" / anonymous / "_data" / "sub" / "f"
    assert os.stat(host_file).st_uid == _host_id(subuid_ranges, 1000)

    # a named volume is filled once: what a container changes stays, never copied again
    _ok(rb("run", "--rm", "-v", "named:/data", image, "sh", "-c", "echo changed > /data/sub/f"))
    out = _ok(rb("run", "--rm", "-v", "named:/data", image, "cat", "/data/sub/f"))
    assert out.strip() == "changed"
    # an existing, non-empty volume hides the image's content; nocopy leaves a new one empty
    out = _ok(rb("run", "--rm", "--mount", "type=volume,src=empty,dst=/data,volume-nocopy", image, "ls", "-A", "/data"))
    assert out.strip() == ""
    ro = rb("run", "--rm", "--mount", "type=volume,src=named,dst=/data,readonly", image, "touch", "/data/x")
    assert ro.returncode == 1 and "Read-only file system" in ro.stderr


def test_anonymous_volumes_go_with_rm_v_and_run_rm(rb, busybox) -> None:
    image = _image_with_volume(rb, busybox)
    _ok(rb("run", "--rm", "-v", "keepme:/keep", image, "true"))
    assert _ok(rb("volume", "ls", "-q")).split() == ["keepme"]     # --rm: anonymous gone, named kept
    _ok(rb("run", "--name", "c1", "-v", "/scratch", image, "true"))
    assert len(_ok(rb("volume", "ls", "-q")).split()) == 3         # /data and /scratch
    _ok(rb("rm", "c1"))
    assert len(_ok(rb("volume", "ls", "-q")).split()) == 3         # rm without -v keeps them
    _ok(rb("run", "--name", "c2", image, "true"))
    _ok(rb("rm", "-v", "c2"))
    assert len(_ok(rb("volume", "ls", "-q")).split()) == 3
    # an anonymous volume another container mounts by name stays with rm -v
    _ok(rb("run", "--name", "c3", image, "true"))
    [shared] = json.loads(_ok(rb("inspect", "--format", "{{json .Mounts}}", "c3")))
    _ok(rb("create", "--name", "c4", "-v", f"{shared['Name']}:/again", image, "true"))
    _ok(rb("rm", "-v", "c3"))
    assert shared["Name"] in _ok(rb("volume", "ls", "-q")).split()


def test_ls_filters_format_and_prune(rb, busybox) -> None:
    _ok(rb("volume", "create", "--label", "env=prod", "used"))
    _ok(rb("volume", "create", "--label", "env=test", "idle"))
    anonymous = _ok(rb("volume", "create")).strip()
    assert len(anonymous) == 64
    _ok(rb("create", "--name", "holder", "-v", "used:/u", busybox, "true"))
    holder = _ok(rb("ps", "-aq", "--filter", "name=holder")).split()
    assert len(holder) == 1     # ps --filter volume=: by the volume's name or the mount's destination
    assert _ok(rb("ps", "-aq", "--filter", "volume=used")).split() == holder
    assert _ok(rb("ps", "-aq", "--filter", "volume=/u")).split() == holder
    assert _ok(rb("ps", "-aq", "--filter", "volume=idle")) == ""
    assert _ok(rb("volume", "ls", "-q", "--filter", "dangling=true")).split() == sorted([anonymous, "idle"])
    assert _ok(rb("volume", "ls", "-q", "--filter", "dangling=false")).split() == ["used"]
    assert _ok(rb("volume", "ls", "-q", "--filter", "label=env=prod")).split() == ["used"]
    assert _ok(rb("volume", "ls", "-q", "--filter", "name=idl")).split() == ["idle"]
    assert _ok(rb("volume", "ls", "--format", "{{.Name}} {{.Driver}} {{.Labels}}", "--filter",
                  "label=env")).splitlines() == ["idle local env=test", "used local env=prod"]
    table = _ok(rb("volume", "ls", "--format", "table {{.Name}}\t{{.Scope}}", "--filter", "name=used"))
    assert table.splitlines()[0].split() == ["VOLUME", "NAME", "SCOPE"]
    bad = rb("volume", "ls", "--filter", "colour=red")
    assert bad.returncode == 125 and "Invalid filter 'colour'" in bad.stderr

    pruned = _ok(rb("volume", "prune", "-f"))         # anonymous ones only, as docker 23+
    assert pruned.splitlines()[:2] == ["Deleted Volumes:", anonymous]
    assert _ok(rb("volume", "ls", "-q")).split() == ["idle", "used"]
    pruned = _ok(rb("volume", "prune", "-f", "--all"))
    assert "idle" in pruned and "used" not in pruned    # in use by holder: kept
    assert _ok(rb("volume", "ls", "-q")).split() == ["used"]


def test_bad_volume_names_and_options_are_one_line_errors(rb, busybox) -> None:
    for args, words in ((("volume", "create", "bad/name"), "invalid characters for a local volume name"),
                        (("volume", "create", "--opt", "type=nfs", "v"), "only type=tmpfs"),
                        (("volume", "create", "--opt", "colour=red", "v"), "invalid option key"),
                        (("run", "--rm", "-v", "x!:/d", busybox, "true"), "invalid characters")):
        done = rb(*args)
        assert done.returncode == 125, (args, done.stderr)
        assert done.stderr.count("\n") == 1 and words in done.stderr and "Traceback" not in done.stderr
    assert _ok(rb("volume", "ls", "-q")) == ""
    assert _ok(rb("ps", "-aq")) == ""


def test_tmpfs_volume_option(rb, busybox) -> None:
    _ok(rb("volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", "o=size=2m", "ram"))
    out = _ok(rb("run", "--rm", "-v", "ram:/ram", busybox, "grep", " /ram ", "/proc/mounts"))
    assert out.startswith("tmpfs /ram tmpfs") and "size=2048k" in out
