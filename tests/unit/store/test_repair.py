"""fsck --repair (store/repair.py) on a real store directory: what comes back, and how."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rootless_build.oci import mediatypes as mt
from rootless_build.oci.models import Descriptor
from rootless_build.store import Store
from rootless_build.store.layout import IndexDamaged
from rootless_build.store.repair import repair_index
from rootless_build.store.roots import BUILD_CACHE


def make_image(store: Store, payload: bytes):
    layer = store.blobs.put_bytes(payload)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [layer]}}).encode()
    return store.write_image(config, [Descriptor(mediaType=mt.OCI_LAYER, digest=layer, size=len(payload))])


@pytest.fixture
def store(tmp_path):
    return Store.open(tmp_path / "store")


def test_a_sound_index_is_left_alone(store):
    store.tag(make_image(store, b"a"), "a")
    before = (store.root / "index.json").read_bytes()
    assert repair_index(store).problem is None
    assert (store.root / "index.json").read_bytes() == before


def test_valid_entries_of_the_damaged_index_win_over_the_backup(store):
    a, b = make_image(store, b"a"), make_image(store, b"b")
    store.tag(a, "app")
    store.tag(b, "other")
    doc = json.loads((store.root / "index.json").read_text())
    doc["manifests"][1]["size"] = "big"  # 'other' damaged
    doc["manifests"][0]["annotations"][mt.ANNOTATION_REF_NAME] = "app:renamed"
    (store.root / "index.json").write_text(json.dumps(doc))
    with pytest.raises(IndexDamaged, match=r"manifests\[1\]\.size"):
        store.entries()
    repair = repair_index(store)
    assert "manifests[1].size" in repair.problem
    assert store.tags_by_digest() == {a.manifest_digest: ["app:renamed", "app:latest"],
                                      b.manifest_digest: ["other:latest"]}
    assert (store.root / "index.json.damaged").exists()


def test_without_index_or_backup_images_come_back_untagged_but_not_cache_or_lists(store):
    tagged, cached = make_image(store, b"t"), make_image(store, b"c")
    store.tag(tagged, "app")
    store.put_record(BUILD_CACHE, "key", {"manifest": cached.manifest_digest})
    store.blobs.put_bytes(json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [
        {"mediaType": mt.OCI_MANIFEST, "digest": tagged.manifest_digest, "size": 1}]}).encode())
    (store.root / "index.json").unlink()
    (store.root / "index.json.backup").unlink()
    repair = repair_index(store)
    assert repair.untagged == [tagged.manifest_digest] and repair.tags == []
    assert store.tags_by_digest() == {tagged.manifest_digest: []}


def test_backup_entries_whose_manifest_is_gone_are_dropped(store):
    kept, gone = make_image(store, b"k"), make_image(store, b"g")
    store.tag(kept, "kept")
    store.tag(gone, "gone")
    store.blobs.delete(gone.manifest_digest)
    (store.root / "index.json").write_text("{")
    repair = repair_index(store)
    assert repair.dropped == [gone.manifest_digest] and repair.tags == ["kept:latest"]
    assert store.tags_by_digest() == {kept.manifest_digest: ["kept:latest"]}


RACER = """
import json, sys
from rootless_build.oci import mediatypes as mt
from rootless_build.oci.models import Descriptor
from rootless_build.store import Store
store = Store.open(sys.argv[1])
layer = store.blobs.put_bytes(sys.argv[2].encode())
config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [layer]}})
image = store.write_image(config.encode(), [Descriptor(mediaType=mt.OCI_LAYER, digest=layer, size=len(sys.argv[2]))])
store.tag(image, sys.argv[2])
"""


def test_processes_that_create_one_store_at_once_keep_every_tag(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[3]))
    root = tmp_path / "new-store"
    procs = [subprocess.Popen([sys.executable, "-c", RACER, str(root), f"img{i}"], env=env) for i in range(6)]
    assert [p.wait() for p in procs] == [0] * 6
    names = sorted(n for tags in Store.open(root).tags_by_digest().values() for n in tags)
    assert names == [f"img{i}:latest" for i in range(6)]
