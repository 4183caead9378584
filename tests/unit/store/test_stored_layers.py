"""The store's images and layers through oci/partial.py: every derived field from the raw
documents, and layers read back (compressed as stored, and uncompressed) from a real store."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import pytest

from rootless_build.errors import BlobCorrupt
from rootless_build.oci import digest as dg
from rootless_build.oci import mediatypes as mt
from rootless_build.oci import partial
from rootless_build.oci.platform import Platform, parse
from rootless_build.store import Store
from rootless_build.store.layer import StoredImage


def _tar(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.fixture
def stored(tmp_path):
    """A store holding an image of a plain layer and a gzip one (as a pull leaves it)."""
    store = Store.open(tmp_path / "store")
    plain, packed = _tar("a", b"alpha"), _tar("b", b"beta" * 100)
    gz = gzip.compress(packed, mtime=0)
    layers = [{"mediaType": mt.OCI_LAYER, "digest": store.blobs.put_bytes(plain), "size": len(plain)},
              {"mediaType": mt.OCI_LAYER_GZIP, "digest": store.blobs.put_bytes(gz), "size": len(gz)}]
    config = json.dumps({"architecture": "arm64", "os": "linux", "variant": "v8",
                         "created": "2024-05-01T10:20:30.123456789Z",
                         "rootfs": {"type": "layers", "diff_ids": [dg.of_bytes(plain), dg.of_bytes(packed)]}}).encode()
    return store, store.write_image(config, layers), (plain, packed, gz)


def test_derived_fields_come_from_the_raw_documents(stored):
    store, image, (plain, packed, gz) = stored
    assert image.id == dg.of_bytes(image.config_bytes)
    assert image.media_type == mt.OCI_MANIFEST
    assert image.layer_digests == [dg.of_bytes(plain), dg.of_bytes(gz)]
    assert image.layer_sizes == [len(plain), len(gz)]
    assert image.size == len(plain) + len(gz)
    assert image.diff_ids == [dg.of_bytes(plain), dg.of_bytes(packed)]
    assert image.chain_ids == dg.chain_ids(image.diff_ids)
    assert [(x.digest, x.media_type, x.diff_id) for x in image.layers] == [
        (dg.of_bytes(plain), mt.OCI_LAYER, dg.of_bytes(plain)),
        (dg.of_bytes(gz), mt.OCI_LAYER_GZIP, dg.of_bytes(packed))]
    assert image.created is not None and image.created.isoformat() == "2024-05-01T10:20:30.123456+00:00"
    assert image.platform == Platform("linux", "arm64", "v8")
    assert image.is_for(parse("linux/arm64")) and not image.is_for(parse("linux/amd64"))
    assert image.layers is image.layers  # computed once


def test_stored_layers_open_compressed_and_uncompressed(stored):
    store, image, (plain, packed, gz) = stored
    source: partial.Image = StoredImage(image, store.blobs)
    with source.open_blob(image.id) as f:
        assert f.read() == image.config_bytes
    layers: list[partial.Layer] = list(StoredImage(image, store.blobs).layers())
    assert [layer.diff_id for layer in layers] == image.diff_ids
    with layers[1].open_compressed() as f:
        assert f.read() == gz
    for layer, tar in zip(layers, (plain, packed), strict=True):
        with layer.open_uncompressed() as f:
            assert f.read() == tar


def test_a_corrupt_stored_layer_fails_its_read(stored):
    store, image, (plain, _, _) = stored
    store.blobs.path(dg.of_bytes(plain)).write_bytes(b"x" * len(plain))
    reopened = Store.open(store.root)  # (a blob this process wrote is not hashed again)
    layer = StoredImage(image, reopened.blobs).layers()[0]
    with pytest.raises(BlobCorrupt), layer.open_uncompressed() as f:
        f.read()


def test_missing_rootfs_reads_as_no_diff_ids():
    assert partial.config_diff_ids({}) == []
    assert partial.config_diff_ids({"rootfs": {"diff_ids": "nope"}}) == []


def test_media_type_labels_and_annotations(tmp_path):
    store = Store.open(tmp_path / "store")
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Labels": {"a": "1"}},
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    image = store.write_image(config, [], docker=True, annotations={"k": "v"})
    assert image.media_type == mt.DOCKER_MANIFEST
    assert image.labels == {"a": "1"} and image.container_config == {"Labels": {"a": "1"}}
    assert image.annotations == {"k": "v"}
    assert partial.media_type_of({"config": {"mediaType": mt.DOCKER_CONFIG}}) == mt.DOCKER_MANIFEST
    assert partial.media_type_of({"config": {"mediaType": mt.OCI_CONFIG}}) == mt.OCI_MANIFEST
    assert partial.media_type_of({"manifests": []}) == mt.OCI_INDEX
