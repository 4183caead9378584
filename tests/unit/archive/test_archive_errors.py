"""Bad archives: truncated, corrupt, malformed. Each is one ArchiveError, and the store is
left exactly as it was (no blob, no tag, no temp file)."""

from __future__ import annotations

import io
import json
import os
import tarfile

import pytest

from rootless_build.archive.load import load
from rootless_build.archive.save import save
from rootless_build.archive.staging import ArchiveError
from rootless_build.errors import BlobCorrupt
from rootless_build.oci import digest as dg


@pytest.fixture
def archive(store, make_image, tmp_path):
    """A docker-archive and an oci-archive (gzip) of one two-layer image."""
    make_image(store, [{"a": os.urandom(40000)}, {"b": b"b" * 30000}], tags=("app",))
    paths = {}
    for fmt in ("docker-archive", "oci-archive"):
        paths[fmt] = tmp_path / f"{fmt}.tar"
        save(store, ["app"], str(paths[fmt]), fmt)
    return paths


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9])
def test_truncated_archive_loads_nothing(archive, other_store, store_is_empty, tmp_path, fmt, keep):
    data = archive[fmt].read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(ArchiveError) as e:
        load(other_store, cut)
    assert "\n" not in str(e.value)
    assert store_is_empty(other_store)


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_corrupt_byte_in_a_layer_is_refused(archive, other_store, store_is_empty, tmp_path, fmt):
    data = bytearray(archive[fmt].read_bytes())
    with tarfile.open(archive[fmt]) as tar:
        member = max((m for m in tar if m.isfile()), key=lambda m: m.size)
    data[member.offset_data + member.size // 2] ^= 0xFF
    bad = tmp_path / "bad.tar"
    bad.write_bytes(bytes(data))
    with pytest.raises(ArchiveError) as e:
        load(other_store, bad)
    assert "corrupt" in str(e.value)
    assert store_is_empty(other_store)


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_blob_not_matching_its_name_is_refused(other_store, store_is_empty, tmp_path):
    wrong = "blobs/sha256/" + "0" * 64
    path = tmp_path / "x.tar"
    path.write_bytes(_tar({"oci-layout": b"{}", wrong: b"not that", "index.json": b'{"manifests": []}'}))
    with pytest.raises(ArchiveError, match="0" * 64):
        load(other_store, path)
    assert store_is_empty(other_store)


@pytest.mark.parametrize("members, message", [
    ({"hello.txt": b"hi"}, "neither an OCI layout"),
    ({"manifest.json": b"{not json"}, "manifest.json is malformed"),
    ({"manifest.json": b'[{"Config": "c.json", "Layers": ["l.tar"]}]'}, "missing from the archive"),
    ({"index.json": b'{"manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",'
                    b' "digest": "sha256:' + b"1" * 64 + b'", "size": 2}]}'}, "missing from the archive"),
])
def test_malformed_archives(other_store, store_is_empty, tmp_path, members, message):
    path = tmp_path / "m.tar"
    path.write_bytes(_tar(members))
    with pytest.raises(ArchiveError, match=message):
        load(other_store, path)
    assert store_is_empty(other_store)


def test_not_a_tar_at_all(other_store, store_is_empty, tmp_path):
    path = tmp_path / "junk"
    path.write_bytes(os.urandom(5000))
    with pytest.raises(ArchiveError):
        load(other_store, path)
    with pytest.raises(ArchiveError, match="no such file"):
        load(other_store, tmp_path / "absent.tar")
    assert store_is_empty(other_store)


def test_config_not_matching_the_layers_is_refused(store, other_store, make_image, store_is_empty, tmp_path):
    make_image(store, [{"a": b"1"}], tags=("app",))
    save(store, ["app"], str(tmp_path / "d.tar"), "docker-archive")
    with tarfile.open(tmp_path / "d.tar") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
    (entry,) = json.loads(members["manifest.json"])
    config = json.loads(members[entry["Config"]])
    config["rootfs"]["diff_ids"] = [dg.of_bytes(b"other")]
    members[entry["Config"]] = json.dumps(config).encode()
    (tmp_path / "d2.tar").write_bytes(_tar(members))
    with pytest.raises(ArchiveError, match="layer 1 is corrupt"):
        load(other_store, tmp_path / "d2.tar")
    assert store_is_empty(other_store)


def test_save_of_a_corrupt_layer_fails_and_writes_nothing(store, make_image, tmp_path):
    image = make_image(store, [{"a": b"x" * 1000}], tags=("app",))
    path = store.blobs.path(image.diff_ids[0])
    data = bytearray(path.read_bytes())
    data[700] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(BlobCorrupt, match=image.diff_ids[0]):
        save(store, ["app"], str(tmp_path / "o.tar"), "oci-archive", "gzip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]
    assert not any(store.tmp_dir.iterdir())


def test_names_in_a_directory_cannot_reach_outside_it(other_store, store_is_empty, tmp_path):
    (tmp_path / "outside.json").write_text('{"rootfs": {"diff_ids": []}}')
    layout = tmp_path / "dir"
    layout.mkdir()
    (layout / "manifest.json").write_text(json.dumps([{"Config": "../outside.json", "Layers": []}]))
    with pytest.raises(ArchiveError, match="config ../outside.json is missing"):
        load(other_store, layout)
    assert store_is_empty(other_store)
