"""Small synthetic images made with the store API, for the archive tests."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from rootless_build.oci import mediatypes as mt
from rootless_build.oci.models import Descriptor
from rootless_build.store import Store


def layer_tar(files: dict[str, bytes]) -> bytes:
    """An uncompressed layer tar holding `files` (name -> content), deterministic."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_image(store: Store, layers: list[dict[str, bytes]], *, tags: tuple[str, ...] = (),
               arch: str = "amd64", created: str = "2024-01-02T03:04:05Z", cmd: list[str] | None = None):
    """Store an image with one layer per dict, tag it, and return it (as stored)."""
    descs, diff_ids, history = [], [], []
    for n, files in enumerate(layers):
        data = layer_tar(files)
        digest = store.blobs.put_bytes(data)
        descs.append(Descriptor(mediaType=mt.OCI_LAYER, digest=digest, size=len(data)))
        diff_ids.append(digest)
        history.append({"created": created, "created_by": f"COPY layer{n} /"})
    history.append({"created": created, "created_by": '/bin/sh -c #(nop)  CMD ["sh"]', "empty_layer": True})
    config = {"architecture": arch, "os": "linux", "created": created,
              "config": {"Env": ["PATH=/bin"], "Cmd": cmd or ["sh"]},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": history}
    image = store.write_image(json.dumps(config, sort_keys=True).encode(), descs)
    for tag in tags:
        store.tag(image, tag)
    if not tags:
        store.add_untagged(image)
    return store.resolve(image.id)


@pytest.fixture
def store(tmp_path):
    return Store.open(tmp_path / "store")


@pytest.fixture
def other_store(tmp_path):
    return Store.open(tmp_path / "other")


def _store_is_empty(store: Store) -> bool:
    return (not list(store.blobs.list()) and store.entries() == []
            and not any(store.tmp_dir.iterdir()))


@pytest.fixture(name="layer_tar")
def _layer_tar_fixture():
    return layer_tar


@pytest.fixture(name="make_image")
def _make_image_fixture():
    return make_image


@pytest.fixture
def store_is_empty():
    return _store_is_empty
