"""save -> load on synthetic images: every format and compression keeps the image ID, the
tags and the layers; the written documents have the shapes OCI and docker expect."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import pytest
import zstandard

from rootless_build.archive.load import load
from rootless_build.archive.save import save
from rootless_build.oci import digest as dg
from rootless_build.oci import mediatypes as mt
from rootless_build.store.fsck import fsck

FORMATS = ["oci-archive", "docker-archive", "oci-dir"]
COMPRESSIONS = ["gzip", "zstd", "none"]


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_roundtrip_keeps_id_tags_and_layers(store, other_store, make_image, tmp_path, fmt, compression):
    image = make_image(store, [{"bin/a": b"a" * 5000}, {"etc/b": b"bbb", "etc/c": b""}],
                       tags=("localhost:5000/app:1.0", "app:latest"))
    out = tmp_path / "out"
    save(store, ["localhost:5000/app:1.0", "app"], str(out), fmt, compression)

    loaded = load(other_store, out)

    assert [entry.image.id for entry in loaded] == [image.id]
    assert sorted(loaded[0].names) == ["app:latest", "localhost:5000/app:1.0"]
    again = other_store.resolve("localhost:5000/app:1.0")
    assert again.config_bytes == image.config_bytes
    assert [other_store.blobs.path(d).read_bytes() for d in again.diff_ids] == \
        [store.blobs.path(d).read_bytes() for d in image.diff_ids]
    assert all(layer.media_type == mt.OCI_LAYER for layer in again.manifest.layers)
    report = fsck(other_store)
    assert report.ok, report.problems
    assert not any(other_store.tmp_dir.iterdir())


def test_uncompressed_oci_roundtrip_keeps_the_manifest_digest(store, other_store, make_image, tmp_path):
    image = make_image(store, [{"f": b"x"}], tags=("app",))
    save(store, ["app"], str(tmp_path / "o.tar"), "oci-archive", "none")
    (loaded,) = load(other_store, tmp_path / "o.tar")
    assert loaded.image.manifest_digest == image.manifest_digest


def _members(path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def test_oci_archive_layout(store, make_image, tmp_path):
    image = make_image(store, [{"f": b"hello" * 100}], tags=("app:1",))
    save(store, ["app:1"], str(tmp_path / "o.tar"), "oci-archive")  # default gzip
    files = _members(tmp_path / "o.tar")
    for name, data in files.items():
        if name.startswith("blobs/"):
            assert name == "blobs/" + dg.of_bytes(data).replace(":", "/")
    index = json.loads(files["index.json"])
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    (entry,) = index["manifests"]
    assert entry["annotations"] == {mt.ANNOTATION_REF_NAME: "app:1"}
    assert entry["platform"] == {"architecture": "amd64", "os": "linux"}
    manifest = json.loads(files["blobs/" + entry["digest"].replace(":", "/")])
    assert manifest["mediaType"] == mt.OCI_MANIFEST
    assert manifest["config"]["digest"] == image.id
    (layer,) = manifest["layers"]
    assert layer["mediaType"] == mt.OCI_LAYER_GZIP
    compressed = files["blobs/" + layer["digest"].replace(":", "/")]
    assert len(compressed) == layer["size"]
    assert dg.of_bytes(gzip.decompress(compressed)) == image.diff_ids[0]


def test_zstd_layers_decompress_to_the_diff_id(store, make_image, tmp_path):
    image = make_image(store, [{"f": b"z" * 10000}], tags=("app",))
    save(store, ["app"], str(tmp_path / "o"), "oci-dir", "zstd")
    manifest_digest = json.loads((tmp_path / "o/index.json").read_text())["manifests"][0]["digest"]
    manifest = json.loads((tmp_path / "o/blobs" / manifest_digest.replace(":", "/")).read_bytes())
    layer = manifest["layers"][0]
    assert layer["mediaType"] == mt.OCI_LAYER_ZSTD
    data = (tmp_path / "o/blobs" / layer["digest"].replace(":", "/")).read_bytes()
    plain = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
    assert dg.of_bytes(plain) == image.diff_ids[0]


def test_docker_archive_layout(store, make_image, tmp_path):
    image = make_image(store, [{"a": b"1"}, {"b": b"2"}], tags=("localhost:5000/app:2",))
    save(store, ["localhost:5000/app:2"], str(tmp_path / "d.tar"), "docker-archive")
    files = _members(tmp_path / "d.tar")
    (entry,) = json.loads(files["manifest.json"])
    hexid = image.id.split(":")[1]
    assert entry["Config"] == f"{hexid}.json"
    assert files[entry["Config"]] == image.config_bytes
    assert entry["RepoTags"] == ["localhost:5000/app:2"]
    assert entry["Layers"] == [f"{d.split(':')[1]}/layer.tar" for d in image.diff_ids]
    for name, diff_id in zip(entry["Layers"], image.diff_ids, strict=True):
        assert dg.of_bytes(files[name]) == diff_id  # uncompressed, as docker save writes them
    assert json.loads(files["repositories"]) == {"localhost:5000/app": {"2": hexid}}


def test_saving_by_id_gives_no_tag(store, other_store, make_image, tmp_path):
    image = make_image(store, [{"f": b"x"}], tags=("app",))
    save(store, [image.short_id], str(tmp_path / "o.tar"), "oci-archive")
    (loaded,) = load(other_store, tmp_path / "o.tar")
    assert loaded.names == () and loaded.image.id == image.id
    assert other_store.tags_by_digest() == {loaded.image.manifest_digest: []}


def test_several_images_in_one_archive(store, other_store, make_image, tmp_path):
    one = make_image(store, [{"shared": b"s"}, {"one": b"1"}], tags=("one",))
    two = make_image(store, [{"shared": b"s"}, {"two": b"2"}], tags=("two",))
    for fmt, layer_files in (("oci-archive", 3 + 2 + 2), ("docker-archive", 3)):
        save(store, ["one", "two"], str(tmp_path / fmt), fmt)
        with tarfile.open(tmp_path / fmt) as tar:
            names = [m.name for m in tar if m.isfile()]
        assert len(names) == len(set(names))
        # the shared layer is written once: 3 layers (+ 2 configs and 2 manifests as OCI blobs)
        assert len([n for n in names if n.startswith("blobs/") or n.endswith("/layer.tar")]) == layer_files
        loaded = load(other_store, tmp_path / fmt)
        assert {entry.image.id for entry in loaded} == {one.id, two.id}


def test_gzip_compressed_archive_and_a_stream(store, other_store, make_image, tmp_path):
    image = make_image(store, [{"f": b"x" * 3000}], tags=("app",))
    save(store, ["app"], str(tmp_path / "d.tar"), "docker-archive")
    packed = gzip.compress((tmp_path / "d.tar").read_bytes())
    (loaded,) = load(other_store, None, io.BufferedReader(io.BytesIO(packed)))
    assert loaded.image.id == image.id and loaded.names == ("app:latest",)


def test_save_to_a_stream_is_the_same_archive(store, make_image, tmp_path):
    make_image(store, [{"f": b"x"}], tags=("app",))
    save(store, ["app"], str(tmp_path / "o.tar"), "oci-archive")
    buf = io.BytesIO()
    save(store, ["app"], None, "oci-archive", stream=buf)
    assert buf.getvalue() == (tmp_path / "o.tar").read_bytes()
    assert len(buf.getvalue()) % 10240 == 0


def test_oci_dir_replaces_an_earlier_layout(store, make_image, tmp_path):
    make_image(store, [{"f": b"1"}], tags=("one",))
    make_image(store, [{"f": b"2"}], tags=("two",))
    save(store, ["one"], str(tmp_path / "dir"), "oci-dir")
    save(store, ["two"], str(tmp_path / "dir"), "oci-dir")
    names = [m["annotations"][mt.ANNOTATION_REF_NAME]
             for m in json.loads((tmp_path / "dir/index.json").read_text())["manifests"]]
    assert names == ["two:latest"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "store"]
