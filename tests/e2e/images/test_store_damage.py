"""A damaged store, then every command, as the unprivileged user (issue 11, items 3, 4, 15):
no image may be lost and every error is one line, never a traceback or "internal error".

Item 3: index.json missing, null `manifests`, a digest that is not a string, not JSON,
annotations that are not a map: every command that reads or writes the index refuses,
naming the file and `fsck --repair`, GC deletes nothing, and the repair brings the tags back
(from index.json.backup) or, without it, the images untagged.
Item 4: a layer blob whose bytes no longer match its digest is refused by run and build.
Item 15: a broken --format template is an error even with nothing to list.
"""

from __future__ import annotations

import json
import os

import pytest

BUSYBOX = "localhost:5000/busybox:latest"  # the `busybox` fixture's name for it

pytestmark = pytest.mark.rootless


def _ok(proc) -> str:
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}"
    return proc.stdout


def _one_line_error(proc) -> str:
    assert proc.returncode != 0, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    return lines[0]


def _blobs(rb) -> set[str]:
    return set(os.listdir(rb.root / "blobs" / "sha256"))


def _damage(index, how: str) -> None:
    doc = json.loads(index.read_text())
    if how == "missing":
        index.unlink()
        return
    if how == "null-manifests":
        doc["manifests"] = None
    elif how == "digest-not-string":
        doc["manifests"][0]["digest"] = {"sha256": 1}
    elif how == "annotations-not-map":
        doc["manifests"][0]["annotations"] = ["org.opencontainers.image.ref.name", "x"]
    elif how == "truncated":
        index.write_text(index.read_text()[:40])
        return
    index.write_text(json.dumps(doc))


@pytest.fixture
def tagged_twice(rb, busybox, tmp_path):
    _ok(rb("tag", BUSYBOX, "second:1"))
    return busybox


@pytest.mark.parametrize("how", ["missing", "null-manifests", "digest-not-string", "annotations-not-map",
                                 "truncated"])
def test_damaged_index_stops_every_command_and_repair_restores_the_tags(rb, tagged_twice, busybox_tar,
                                                                       tmp_path, how):
    before = _blobs(rb)
    _damage(rb.root / "index.json", how)
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text(f"FROM {BUSYBOX}\nRUN true\n")
    commands = [
        ("images",), ("inspect", BUSYBOX), ("history", BUSYBOX), ("tag", BUSYBOX, "third"),
        ("rmi", BUSYBOX), ("rmi", "-f", tagged_twice), ("prune",), ("prune", "-a"),
        ("save", "-o", tmp_path / "out.tar", BUSYBOX), ("import", busybox_tar, "imported"),
        ("build", "-q", "-t", "built", tmp_path / "ctx"), ("run", "--rm", BUSYBOX, "true"),
    ]
    for args in commands:
        error = _one_line_error(rb(*args))
        assert "index.json" in error and "fsck --repair" in error, (args, error)
    assert before <= _blobs(rb), "a command deleted blobs of a store whose index it could not read"
    assert not (tmp_path / "out.tar").exists()

    proc = rb("fsck")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "index.json" in proc.stdout and "fsck --repair" in proc.stdout

    out = _ok(rb("fsck", "--repair"))
    assert "repaired:" in out and out.strip().endswith("OK")
    assert {line.split()[0] + ":" + line.split()[1] for line in _ok(rb("images")).splitlines()[1:]} == {
        BUSYBOX, "second:1"}
    _ok(rb("run", "--rm", "second:1", "true"))
    assert _ok(rb("fsck")).strip().endswith("OK")


def test_repair_without_a_backup_brings_images_back_untagged(rb, tagged_twice):
    (rb.root / "index.json").unlink()
    (rb.root / "index.json.backup").unlink()
    out = _ok(rb("fsck", "--repair"))
    assert "recovered untagged image" in out
    rows = _ok(rb("images")).splitlines()[1:]
    assert len(rows) == 1 and rows[0].split()[:3] == ["<none>", "<none>", tagged_twice[7:19]]
    _ok(rb("tag", tagged_twice[7:19], "again"))
    _ok(rb("run", "--rm", "again", "true"))


def test_a_new_store_is_made_but_a_layout_without_index_is_damage(rb, tmp_path):
    fresh = tmp_path / "fresh" / "store"
    assert _ok(rb("--root", fresh, "images")).split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert json.loads((fresh / "index.json").read_text())["manifests"] == []
    (fresh / "index.json").unlink()
    assert "is missing" in _one_line_error(rb("--root", fresh, "images"))


def test_prune_refuses_when_an_image_manifest_is_unreadable(rb, tagged_twice):
    """GC must not take an unreadable manifest for one with no layers."""
    (doc,) = json.loads(_ok(rb("inspect", BUSYBOX)))
    manifest = rb.root / "blobs" / "sha256" / doc["Digest"].split(":")[1]
    manifest.write_bytes(b"{not json")
    before = _blobs(rb)
    error = _one_line_error(rb("prune"))
    assert "cannot be read" in error and "not collecting" in error
    assert _blobs(rb) == before


# -- item 4: a corrupt layer blob ----------------------------------------------------------

def _corrupt_layer(rb, image: str) -> tuple[str, os.PathLike]:
    (doc,) = json.loads(_ok(rb("inspect", image)))
    manifest = json.loads((rb.root / "blobs" / "sha256" / doc["Digest"].split(":")[1]).read_bytes())
    layer = manifest["layers"][0]["digest"]  # as stored (compressed when pulled)
    path = rb.root / "blobs" / "sha256" / layer.split(":")[1]
    with open(path, "r+b") as f:  # same size, one byte changed
        f.seek(5000)
        byte = f.read(1)
        f.seek(5000)
        f.write(bytes([byte[0] ^ 0xFF]))
    return layer, path


def test_run_and_build_refuse_a_corrupt_layer_blob(rb, busybox, busybox_tar, tmp_path):
    layer, path = _corrupt_layer(rb, BUSYBOX)
    error = _one_line_error(rb("run", "--rm", BUSYBOX, "true"))
    assert f"blob {layer} is corrupt" in error and "pull" in error and "rmi" in error
    assert not path.exists()  # removed, so that a pull or an import stores it again
    assert not list((rb.root / "layers").glob("*/complete"))  # never marked unpacked
    (tmp_path / "Dockerfile").write_text(f"FROM {BUSYBOX}\nRUN true\n")
    error = _one_line_error(rb("build", "-q", "-t", "x", tmp_path))
    assert layer in error and "pull" in error
    assert f"blob {layer} is missing" in _ok_fsck_problem(rb)
    # the repair the message names: the image comes back whole
    _ok(rb("import", busybox_tar, BUSYBOX))
    assert _ok(rb("run", "--rm", BUSYBOX, "echo", "whole")).strip() == "whole"
    assert _ok(rb("fsck")).strip().endswith("OK")


def _ok_fsck_problem(rb) -> str:
    proc = rb("fsck")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    return proc.stdout


@pytest.mark.registry
def test_pull_repairs_a_corrupt_layer(rb, seeded_registry):
    image = f"{seeded_registry}/busybox:latest"
    _ok(rb("pull", "-q", image))
    layer, path = _corrupt_layer(rb, image)
    assert layer in _one_line_error(rb("run", "--rm", image, "true"))
    _ok(rb("pull", "-q", image))
    assert _ok(rb("run", "--rm", image, "echo", "whole")).strip() == "whole"
    assert _ok(rb("fsck")).strip().endswith("OK")


# -- item 15: broken --format templates ------------------------------------------------------

@pytest.mark.parametrize("args", [("ps", "--format", "{{.Bad"), ("ps", "-a", "--format", "{{.ID}} {{"),
                                  ("images", "--format", "{{.Bad"), ("inspect", "--format", "{{.Id", BUSYBOX)])
def test_a_broken_template_is_a_one_line_error(rb, busybox, args):
    assert "unclosed action" in _one_line_error(rb(*args))


def test_an_unreadable_container_record_stops_gc(rb, tagged_twice):
    """The image under a container whose record cannot be read is unknown: nothing is freed."""
    folder = rb.root / "containers" / ("ef" * 32)
    folder.mkdir(parents=True)
    (folder / "container.json").write_text("{truncated")
    before = _blobs(rb)
    for args in (("rmi", "second:1"), ("rmi", BUSYBOX), ("prune",), ("prune", "-a")):
        assert "damaged record" in _one_line_error(rb(*args))
    assert _blobs(rb) == before and len(_ok(rb("images")).splitlines()) == 3  # both tags
    proc = rb("fsck")
    assert proc.returncode == 1 and "damaged record" in proc.stdout and "Traceback" not in proc.stderr
