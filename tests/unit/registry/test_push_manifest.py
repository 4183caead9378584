"""The manifest push sends: stored bytes untouched when layers are already compressed,
else the compressed variants named with the right media types."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from rootless_build.oci import mediatypes as mt
from rootless_build.oci.models import Descriptor
from rootless_build.registry.push import manifest_for
from rootless_build.store import Store


def layer_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"hello\n" * 1000
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def store(tmp_path) -> Store:
    return Store.open(tmp_path / "store")


def image_with(store: Store, media_type: str, *, docker: bool = False):
    data = layer_tar()
    digest = store.blobs.put_bytes(data)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [digest]}}).encode()
    return store.write_image(config, [Descriptor(mediaType=media_type, digest=digest, size=len(data))], docker=docker)


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_uncompressed_layers_are_replaced_by_their_variant(store, compression):
    from rootless_build.store.variants import compressed_layer

    image = image_with(store, mt.OCI_LAYER)
    with store.writing():
        pushed = [compressed_layer(store, layer, compression) for layer in image.manifest.layers]
    raw, media_type = manifest_for(image, pushed, compression)
    doc = json.loads(raw)
    assert media_type == mt.OCI_MANIFEST
    assert doc["layers"] == [{"mediaType": mt.oci_layer_type(compression), "digest": pushed[0].digest,
                              "size": pushed[0].size}]
    assert doc["config"] == json.loads(image.manifest_bytes)["config"]
    assert pushed[0].digest != image.manifest.layers[0].digest


def test_docker_manifest_keeps_docker_types_for_gzip_and_turns_oci_for_zstd(store):
    from rootless_build.store.variants import compressed_layer

    image = image_with(store, mt.DOCKER_LAYER, docker=True)
    with store.writing():
        gz = [compressed_layer(store, layer, "gzip") for layer in image.manifest.layers]
        zst = [compressed_layer(store, layer, "zstd") for layer in image.manifest.layers]
    raw, media_type = manifest_for(image, gz, "gzip")
    assert media_type == mt.DOCKER_MANIFEST
    assert json.loads(raw)["layers"][0]["mediaType"] == mt.DOCKER_LAYER_GZIP
    raw, media_type = manifest_for(image, zst, "zstd")
    doc = json.loads(raw)
    assert media_type == doc["mediaType"] == mt.OCI_MANIFEST
    assert doc["config"]["mediaType"] == mt.OCI_CONFIG
    assert doc["layers"][0]["mediaType"] == mt.OCI_LAYER_ZSTD


def test_compressed_layers_keep_the_stored_bytes(store):
    image = image_with(store, mt.OCI_LAYER_GZIP)  # as pulled: the digest must not change
    raw, media_type = manifest_for(image, list(image.manifest.layers), "gzip")
    assert raw == image.manifest_bytes and media_type == mt.OCI_MANIFEST
