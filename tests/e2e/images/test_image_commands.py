"""import, images, tag, rmi, prune, inspect, history, fsck through the CLI, as the
unprivileged user, checked with skopeo on the store itself."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import pytest

BUSYBOX = "localhost:5000/busybox:latest"  # the `busybox` fixture's name for it

pytestmark = pytest.mark.rootless


def _ok(proc):
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}"
    return proc.stdout


def _one_line_error(proc, code: int = 1) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_import_gives_an_image_skopeo_reads_in_the_store(rb, busybox, tool):
    out = tool("skopeo", "inspect", f"oci:{rb.root}:{BUSYBOX}").stdout
    info = json.loads(out)
    assert info["Os"] == "linux" and len(info["Layers"]) == 1
    raw_config = tool("skopeo", "inspect", "--config", "--raw", f"oci:{rb.root}:{BUSYBOX}").stdout
    (doc,) = json.loads(_ok(rb("inspect", BUSYBOX)))
    assert json.loads(raw_config)["rootfs"]["diff_ids"] == doc["RootFS"]["Layers"]
    assert _ok(rb("inspect", "--format", "{{.Id}}", BUSYBOX)).strip() == busybox
    assert _ok(rb("fsck")).strip().endswith("checked: OK")


def test_images_lists_one_row_per_tag(rb, busybox):
    _ok(rb("tag", BUSYBOX, "bb:1", "localhost:5000/other:2"))
    lines = _ok(rb("images")).splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    rows = [line.split()[:3] for line in lines[1:]]
    short = busybox[7:19]
    assert sorted(rows) == sorted([["bb", "1", short], ["localhost:5000/busybox", "latest", short],
                                   ["localhost:5000/other", "2", short]])
    assert _ok(rb("images", "-q")).split() == [short]
    assert _ok(rb("images", "-q", "--no-trunc")).split() == [busybox]
    assert [line.split()[1] for line in _ok(rb("images", "bb")).splitlines()[1:]] == ["1"]
    (doc,) = json.loads(_ok(rb("images", "--format", "json")))
    assert doc["Id"] == busybox[7:] and sorted(doc["Names"]) == ["bb:1", "localhost:5000/busybox:latest",
                                                                 "localhost:5000/other:2"]
    assert doc["Digest"].startswith("sha256:") and doc["Size"] > 1_000_000
    digests = _ok(rb("images", "--digests")).splitlines()
    assert "DIGEST" in digests[0] and doc["Digest"] in digests[1]
    assert _ok(rb("images", "--format", "{{.Repository}}:{{.Tag}}", "bb")).strip() == "bb:1"


def test_tag_and_rmi_follow_docker(rb, busybox):
    _ok(rb("tag", BUSYBOX, "bb:1"))
    error = _one_line_error(rb("rmi", busybox[7:19]))
    assert "image is referenced in multiple repositories" in error
    assert _ok(rb("rmi", "bb:1")).splitlines() == ["Untagged: bb:1"]
    proc = rb("rmi", "nosuch:1", BUSYBOX)  # one failure, the other still removed
    assert proc.returncode == 1 and "No such image: nosuch:1" in proc.stderr
    assert proc.stdout.splitlines() == [f"Untagged: {BUSYBOX}", f"Deleted: {busybox}"]
    assert _ok(rb("images", "-q")) == ""
    assert os.listdir(rb.root / "blobs" / "sha256") == []
    assert _ok(rb("fsck")).strip() == "0 blobs, 0 images checked: OK"
    assert _one_line_error(rb("tag", "nosuch", "x")) == "Error: image not known: nosuch"


def test_rmi_of_an_image_in_use_needs_force(rb, busybox):
    digest = json.loads(_ok(rb("images", "--format", "json")))[0]["Digest"]
    folder = rb.root / "containers" / ("ab" * 32)
    folder.mkdir(parents=True)
    (folder / "container.json").write_text(json.dumps({"id": "ab" * 32, "name": "web", "manifest_digest": digest,
                                                       "image": BUSYBOX, "image_id": "sha256:" + "cd" * 32,
                                                       "created": "2024-01-01T00:00:00Z"}))
    error = _one_line_error(rb("rmi", BUSYBOX))
    assert "container abababababab (web) is using" in error
    assert _ok(rb("rmi", "-f", BUSYBOX)).splitlines() == [f"Untagged: {BUSYBOX}"]
    assert _ok(rb("images")).splitlines()[1].split()[:2] == ["<none>", "<none>"]
    assert _ok(rb("fsck")).strip().endswith("OK")


def test_prune_removes_dangling_images(rb, busybox, busybox_tar, tmp_path):
    retagged = tmp_path / "bb.tar.gz"
    retagged.write_bytes(gzip.compress(busybox_tar.read_bytes()))
    new_id = _ok(rb("import", "-m", "second", retagged, BUSYBOX)).strip()
    assert new_id != busybox  # another created time: another config
    rows = _ok(rb("images")).splitlines()[1:]
    assert sorted(r.split()[0] for r in rows) == ["<none>", "localhost:5000/busybox"]
    out = _ok(rb("prune"))
    assert f"deleted: {busybox}" in out and "Total reclaimed space: " in out
    assert _ok(rb("images", "-q", "--no-trunc")).split() == [new_id]
    out = _ok(rb("prune", "-a"))
    assert f"untagged: {BUSYBOX}" in out and f"deleted: {new_id}" in out
    assert _ok(rb("images", "-q")) == "" and os.listdir(rb.root / "blobs" / "sha256") == []
    assert _ok(rb("prune")).strip() == "Total reclaimed space: 0B"


def test_inspect_and_history(rb, busybox, tool):
    (doc,) = json.loads(_ok(rb("inspect", BUSYBOX)))
    assert doc["Id"] == busybox and doc["RepoTags"] == [BUSYBOX]
    assert doc["RepoDigests"][0].startswith("localhost:5000/busybox@sha256:")
    assert set(doc["Config"]) >= {"Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "ExposedPorts",
                                  "Volumes"}
    assert doc["RootFS"]["Type"] == "layers" and len(doc["RootFS"]["Layers"]) == 1
    assert doc["Os"] == "linux" and doc["Size"] > 1_000_000 and "Metadata" in doc
    proc = rb("inspect", BUSYBOX, "nosuch")
    assert proc.returncode == 1 and len(json.loads(proc.stdout)) == 1 and "nosuch" in proc.stderr
    formatted = _ok(rb("inspect", "--format", "{{.Os}}/{{.Architecture}} {{json .RootFS.Layers}}", BUSYBOX))
    layers = json.dumps(doc["RootFS"]["Layers"], separators=(",", ":"))
    assert formatted.strip() == f"linux/{doc['Architecture']} {layers}"

    lines = _ok(rb("history", BUSYBOX)).splitlines()
    assert lines[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert lines[1].startswith(busybox[7:19]) and "…" in lines[1] and "Imported from" in lines[1]
    full = _ok(rb("history", "--no-trunc", BUSYBOX)).splitlines()[1]
    assert full.startswith(busybox) and "/bin/sh -c #(nop) ADD file:" in full and "…" not in full
    assert _ok(rb("history", "-q", BUSYBOX)).split() == [busybox[7:19]]


def test_import_with_changes_from_stdin(rb, busybox_tar):
    packed = gzip.compress(busybox_tar.read_bytes())
    proc = rb_with_bytes(rb, ["import", "--change", 'CMD ["/bin/sh"]', "--change", "ENV A=b",
                              "-m", "from stdin", "-", "piped:1"], packed)
    assert proc.returncode == 0, proc.stderr
    (doc,) = json.loads(_ok(rb("inspect", "piped:1")))
    assert doc["Config"]["Cmd"] == ["/bin/sh"] and doc["Config"]["Env"] == ["A=b"]
    assert doc["Comment"] == "from stdin"
    error = _one_line_error(rb("import", "/nonexistent.tar", "x"))
    assert "/nonexistent.tar" in error
    error = _one_line_error(rb("import", "--change", "RUN true", "-", "x", input=""), code=125)
    assert "RUN" in error


def rb_with_bytes(rb, args, data: bytes):
    """rb() takes text input; this one feeds bytes to stdin."""
    return subprocess.run([sys.executable, "-m", "rootless_build", "--root", str(rb.root), *args],
                          input=data, capture_output=True, timeout=300, check=False)


def test_corrupt_blob_is_named_by_fsck_and_rmi_repairs(rb, busybox, tool):
    (doc,) = json.loads(_ok(rb("inspect", BUSYBOX)))
    layer = doc["RootFS"]["Layers"][0]
    path = rb.root / "blobs" / "sha256" / layer.split(":")[1]
    with open(path, "r+b") as f:
        f.seek(100_000)
        f.write(b"CORRUPTED")
    proc = rb("fsck")
    assert proc.returncode == 1
    assert f"blob {layer}" in proc.stdout and "problem" in proc.stdout.splitlines()[-1]
    error = _one_line_error(rb("save", "-o", rb.root.parent / "x.tar", BUSYBOX))
    assert layer in error and not (rb.root.parent / "x.tar").exists()
    assert _ok(rb("rmi", BUSYBOX)).splitlines()[-1] == f"Deleted: {busybox}"
    assert not path.exists()
    assert _ok(rb("fsck")).strip().endswith("OK")
