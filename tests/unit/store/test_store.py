"""The store on a real filesystem: layout, tags, resolve, GC, fsck, locking across processes."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess

import pytest

from rootless_build.errors import BlobCorrupt, ImageNotFound
from rootless_build.oci import digest as dg
from rootless_build.oci import mediatypes as mt
from rootless_build.oci.models import Descriptor
from rootless_build.store import Store
from rootless_build.store.fsck import fsck
from rootless_build.store.gc import prune
from rootless_build.store.roots import BLOB_NOTES, BUILD_CACHE


def make_image(store: Store, payload: bytes, arch: str = "amd64"):
    layer = store.blobs.put_bytes(payload)
    config = json.dumps({"architecture": arch, "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [layer]}}).encode()
    desc = Descriptor(mediaType=mt.OCI_LAYER, digest=layer, size=len(payload))
    return store.write_image(config, [desc])


@pytest.fixture
def store(tmp_path):
    return Store.open(tmp_path / "store")


def test_new_store_is_an_oci_layout(store):
    assert json.loads((store.root / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    assert json.loads((store.root / "index.json").read_text())["manifests"] == []


def test_tags_resolve_by_name_short_name_and_id(store):
    img = make_image(store, b"a" * 100)
    store.tag(img, "app")
    store.tag(img, "localhost:5000/app:1.0")
    assert store.resolve("app").id == img.id
    assert store.resolve("app:latest").manifest_digest == img.manifest_digest
    assert store.resolve(img.short_id).tags == ("app:latest", "localhost:5000/app:1.0")
    assert store.resolve(img.id).id == img.id
    assert store.resolve(f"localhost:5000/app@{img.manifest_digest}").id == img.id
    with pytest.raises(ImageNotFound):
        store.resolve("nosuch")


def test_short_name_matches_docker_hub_name(store):
    img = make_image(store, b"b")
    store.tag(img, "docker.io/library/busybox:latest")
    assert store.resolve("busybox").id == img.id


def test_retag_leaves_previous_image_dangling_once(store):
    old = make_image(store, b"old")
    new = make_image(store, b"new")
    store.tag(old, "app")
    store.tag(new, "app")
    tags = store.tags_by_digest()
    assert tags == {old.manifest_digest: [], new.manifest_digest: ["app:latest"]}


def test_untag_last_tag_reports_it(store):
    img = make_image(store, b"x")
    store.tag(img, "a")
    store.tag(img, "b")
    assert store.untag("a")[1] is False
    assert store.untag("b")[1] is True
    assert store.entries() == []


def test_prune_removes_unreferenced_blobs_but_keeps_cache_roots(store):
    kept = make_image(store, b"kept")
    cached = make_image(store, b"cached")
    gone = make_image(store, b"gone")
    store.tag(kept, "kept")
    store.put_record(BUILD_CACHE, "k1", {"manifest": cached.manifest_digest})
    (store.layers_dir / "deadbeef").mkdir()
    os.mkdir(store.layers_dir / "deadbeef" / "ro")
    os.chmod(store.layers_dir / "deadbeef" / "ro", 0o500)
    report = prune(store, in_use=set())
    assert not store.blobs.has(gone.manifest_digest)
    assert store.blobs.has(cached.manifest_digest) and store.blobs.has(kept.id)
    assert report.unpacked == 1 and not (store.layers_dir / "deadbeef").exists()
    assert fsck(store).ok


def test_prune_drops_the_notes_of_collected_blobs_only(store):
    kept = make_image(store, b"kept layer")
    gone = make_image(store, b"gone layer")
    store.tag(kept, "kept")
    for kind in BLOB_NOTES:
        for image in (kept, gone):
            store.put_record(kind, image.layer_digests[0], {"note": kind})
    prune(store, in_use=set())
    for kind in BLOB_NOTES:
        assert store.get_record(kind, kept.layer_digests[0]) == {"note": kind}
        assert store.get_record(kind, gone.layer_digests[0]) is None
    assert store.record_names(BLOB_NOTES[0]) == [store.record_path(BLOB_NOTES[0], kept.layer_digests[0]).name]


def test_fsck_names_a_corrupt_blob(store):
    img = make_image(store, b"payload")
    store.tag(img, "app")
    layer = img.manifest.layers[0].digest
    path = store.blobs.path(layer)
    os.chmod(path, 0o644)
    path.write_bytes(b"tampered")
    report = fsck(store)
    assert not report.ok
    assert any(layer in p for p in report.problems)


def test_verified_read_refuses_corrupt_manifest(store):
    img = make_image(store, b"p")
    store.blobs.path(img.manifest_digest).write_bytes(b"{}")
    with pytest.raises(BlobCorrupt):
        store.blobs.read(img.manifest_digest)


def test_blob_writer_rejects_wrong_digest_and_leaves_nothing(store):
    with pytest.raises(BlobCorrupt):
        with store.blobs.writer(expected=dg.of_bytes(b"right")) as w:
            w.write(b"wrong")
            w.commit()
    assert list(store.tmp_dir.iterdir()) == []
    assert list(store.blobs.list()) == []


def test_skopeo_reads_the_store(store):
    if subprocess.run(["which", "skopeo"], capture_output=True).returncode:
        pytest.skip("skopeo not installed")
    img = make_image(store, b"skopeo")
    store.tag(img, "app:1.0")
    out = subprocess.run(["skopeo", "inspect", "--raw", f"oci:{store.root}:app:1.0"],
                         capture_output=True, check=True).stdout
    assert dg.of_bytes(out) == img.manifest_digest


def _tag_many(root: str, prefix: str, n: int) -> None:
    store = Store.open(root)
    for i in range(n):
        img = make_image(store, f"{prefix}{i}".encode())
        store.tag(img, f"{prefix}:{i}")


def test_concurrent_writers_lose_no_tag(tmp_path):
    root = str(tmp_path / "s")
    Store.open(root)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_tag_many, args=(root, f"p{k}", 15)) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert all(p.exitcode == 0 for p in procs)
    names = [n for tags in Store.open(root).tags_by_digest().values() for n in tags]
    assert len(names) == 60
