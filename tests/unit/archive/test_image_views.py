"""docker's rules for rmi and prune, the listing, inspect and history views, and the
--format template subset (store/remove.py, store/describe.py, cli/image_cmds.py)."""

from __future__ import annotations

import json

import pytest

from rootless_build.containers.catalog import Catalog
from rootless_build.containers.record import Container
from rootless_build.containers.usage import images_in_use
from rootless_build.errors import ImageNotFound
from rootless_build.store.describe import history_rows, inspect_doc, list_images
from rootless_build.store.fsck import fsck
from rootless_build.store.remove import ImageConflict, collect, prune_images, remove_image
from rootless_build.store.roots import BUILD_CACHE


def _container(store, image, cid="c0ffee" * 10 + "abcd", name="web"):
    folder = store.containers_dir / cid
    folder.mkdir()
    record = Container(id=cid, name=name, image="app", image_id=image.id,
                       manifest_digest=image.manifest_digest, created="2024-01-01T00:00:00Z")
    (folder / "container.json").write_bytes(record.to_json())


def _in_use(store):
    """What the CLI passes: the images containers use, read by containers/."""
    return images_in_use(Catalog(store.containers_dir))


def test_rmi_untags_then_deletes_on_the_last_tag(store, make_image):
    image = make_image(store, [{"f": b"1"}], tags=("a:1", "a:2"))
    assert remove_image(store, "a:1", in_use=_in_use(store)).untagged == ["a:1"]
    assert store.blobs.has(image.manifest_digest)
    removal = remove_image(store, "a:2", in_use=_in_use(store))
    assert removal.untagged == ["a:2"] and removal.deleted == [image.id]
    collect(store, in_use=_in_use(store))
    assert list(store.blobs.list()) == [] and fsck(store).ok


def test_rmi_by_id_with_several_tags_needs_force(store, make_image):
    image = make_image(store, [{"f": b"1"}], tags=("a:1", "b:1"))
    with pytest.raises(ImageConflict, match="referenced in multiple repositories"):
        remove_image(store, image.short_id, in_use=_in_use(store))
    removal = remove_image(store, image.short_id, force=True, in_use=_in_use(store))
    assert sorted(removal.untagged) == ["a:1", "b:1"] and removal.deleted == [image.id]
    assert store.entries() == []


def test_rmi_of_an_image_a_container_uses(store, make_image):
    image = make_image(store, [{"f": b"1"}], tags=("app",))
    _container(store, image)
    with pytest.raises(ImageConflict, match=r"container c0ffeec0ffee \(web\)"):
        remove_image(store, "app", in_use=_in_use(store))
    removal = remove_image(store, "app", force=True, in_use=_in_use(store))
    assert removal.untagged == ["app:latest"] and removal.deleted == []
    collect(store, in_use=_in_use(store))
    assert store.blobs.has(image.manifest_digest)  # the container keeps it
    assert store.tags_by_digest() == {image.manifest_digest: []}  # shown as <none>


def test_rmi_of_an_unknown_name(store):
    with pytest.raises(ImageNotFound, match="No such image: nope"):
        remove_image(store, "nope", in_use=_in_use(store))


def test_rmi_repairs_an_image_with_a_corrupt_blob(store, make_image):
    image = make_image(store, [{"f": b"data" * 100}], tags=("app",))
    store.blobs.path(image.diff_ids[0]).write_bytes(b"garbage")
    store.blobs.path(image.manifest_digest).write_bytes(b"{}")  # even the manifest
    assert not fsck(store).ok
    assert remove_image(store, "app", in_use=_in_use(store)).untagged == ["app:latest"]
    collect(store, in_use=_in_use(store))
    assert fsck(store).ok and list(store.blobs.list()) == []


def test_prune_dangling_and_all(store, make_image):
    old = make_image(store, [{"f": b"old"}], tags=("app",))
    new = make_image(store, [{"f": b"new"}], tags=("app",))  # old is now dangling
    used = make_image(store, [{"f": b"used"}], tags=("used",))
    _container(store, used)
    result = prune_images(store, in_use=_in_use(store))
    assert result.deleted == [old.id] and result.report.bytes_freed > 0
    result = prune_images(store, all_images=True, in_use=_in_use(store))
    assert result.untagged == ["app:latest"] and result.deleted == [new.id]
    assert store.resolve("used").id == used.id
    assert fsck(store).ok


def test_list_images_newest_first_with_intermediates(store, make_image):
    old = make_image(store, [{"f": b"1"}], tags=("x:1", "x:2"), created="2020-01-01T00:00:00Z")
    new = make_image(store, [{"f": b"2"}], created="2023-01-01T00:00:00Z")
    mid = store.write_image(json.dumps({"architecture": "amd64", "os": "linux", "created": "2021-01-01T00:00:00Z",
                                        "rootfs": {"type": "layers", "diff_ids": []}}).encode(), [])
    store.put_record(BUILD_CACHE, "step", {"manifest": mid.manifest_digest})
    rows, problems = list_images(store)
    assert [(r.image.id, r.tag) for r in rows] == [(new.id, None), (old.id, "x:1"), (old.id, "x:2")]
    rows, _ = list_images(store, intermediate=True)
    assert [r.image.id for r in rows] == [new.id, mid.id, old.id, old.id]
    rows, _ = list_images(store, name_filter="x:2")
    assert [r.tag for r in rows] == ["x:2"]
    rows, _ = list_images(store, name_filter="x")
    assert [r.tag for r in rows] == ["x:1", "x:2"]
    assert problems == []


def test_inspect_doc_has_dockers_shape(store, make_image):
    image = make_image(store, [{"f": b"1"}, {"g": b"2"}], tags=("localhost:5000/app:1",), cmd=["run"])
    doc = inspect_doc(store, image)
    assert doc["Id"] == image.id and doc["RepoTags"] == ["localhost:5000/app:1"]
    assert doc["RepoDigests"] == [f"localhost:5000/app@{image.manifest_digest}"]
    assert doc["Config"]["Cmd"] == ["run"] and doc["Config"]["Env"] == ["PATH=/bin"]
    assert doc["Config"]["Entrypoint"] is None and doc["Config"]["WorkingDir"] == ""
    assert doc["RootFS"] == {"Type": "layers", "Layers": image.diff_ids}
    assert doc["Os"] == "linux" and doc["Architecture"] == "amd64" and doc["Size"] == image.size
    assert doc["Created"] == "2024-01-02T03:04:05Z" and "LastTagTime" in doc["Metadata"]


def test_history_newest_first_with_layer_sizes(store, make_image):
    image = make_image(store, [{"f": b"1"}, {"g": b"22"}], tags=("app",))
    rows = history_rows(store, image)
    assert [r.id for r in rows] == [image.id, "<missing>", "<missing>"]
    assert rows[0].created_by.endswith('CMD ["sh"]') and rows[0].size == 0
    assert [r.size for r in rows[1:]] == [layer.size for layer in reversed(image.manifest.layers)]
    assert [r.created_by for r in rows[1:]] == ["COPY layer1 /", "COPY layer0 /"]
