"""Compressed variants are made once and reused; import of rootfs tarballs; loading an
OCI layout whose index offers several platforms."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import tarfile

import pytest
import zstandard

from rootless_build.archive.importer import import_tarball
from rootless_build.archive.load import load
from rootless_build.archive.save import save
from rootless_build.archive.staging import ArchiveError
from rootless_build.oci import digest as dg
from rootless_build.oci import mediatypes as mt
from rootless_build.oci import platform
from rootless_build.oci.models import Descriptor
from rootless_build.store.fsck import fsck
from rootless_build.store.remove import collect, remove_image
from rootless_build.store.roots import VARIANTS
from rootless_build.store.variants import compressed_layer, find_variant


def test_variant_is_recorded_and_reused(store, make_image, tmp_path):
    image = make_image(store, [{"f": os.urandom(100000)}], tags=("app",))
    layer = image.manifest.layers[0]
    save(store, ["app"], str(tmp_path / "1.tar"), "oci-archive", "gzip")
    record = store.get_record(VARIANTS, f"{layer.digest}-gzip")
    assert record["source"] == layer.digest and record["mediaType"] == mt.OCI_LAYER_GZIP
    blob = store.blobs.path(record["digest"])
    assert dg.of_bytes(gzip.decompress(blob.read_bytes())) == layer.digest
    inode = blob.stat().st_ino
    save(store, ["app"], str(tmp_path / "2.tar"), "oci-archive", "gzip")
    assert blob.stat().st_ino == inode  # not compressed again
    assert (tmp_path / "1.tar").read_bytes() == (tmp_path / "2.tar").read_bytes()
    assert compressed_layer(store, layer, "gzip").digest == record["digest"]
    assert compressed_layer(store, layer, "").digest == layer.digest


def test_variant_lives_and_dies_with_its_layer(store, make_image, tmp_path):
    make_image(store, [{"f": b"v" * 5000}], tags=("app",))
    save(store, ["app"], str(tmp_path / "o.tar"), "oci-archive", "zstd")
    (variant_key, record), = store.records(VARIANTS)
    collect(store, in_use={})
    assert store.blobs.has(record["digest"])
    assert fsck(store).ok
    remove_image(store, "app", in_use={})
    collect(store, in_use={})
    assert not store.blobs.has(record["digest"])
    assert list(store.records(VARIANTS)) == []


def test_a_vanished_variant_blob_is_made_again(store, make_image):
    image = make_image(store, [{"f": b"w" * 5000}], tags=("app",))
    layer = image.manifest.layers[0]
    first = compressed_layer(store, layer, "gzip")
    store.blobs.delete(first.digest)
    assert find_variant(store, layer.digest, "gzip") is None
    assert compressed_layer(store, layer, "gzip") == first  # same bytes: deterministic framing
    assert store.blobs.has(first.digest)


def _rootfs() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in [("bin/sh", b"#!fake"), ("etc/passwd", b"root:x:0:0::/root:/bin/sh\n")]:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("bin/ls")
        link.type, link.linkname = tarfile.SYMTYPE, "sh"
        tar.addfile(link)
    return buf.getvalue()


@pytest.mark.parametrize("pack", [
    lambda b: b, gzip.compress, lzma.compress, bz2.compress, lambda b: zstandard.ZstdCompressor().compress(b),
], ids=["plain", "gzip", "xz", "bzip2", "zstd"])
def test_import_stores_the_uncompressed_tar_as_is(store, tmp_path, pack):
    rootfs = _rootfs()
    path = tmp_path / "rootfs.tar.x"
    path.write_bytes(pack(rootfs))
    image = import_tarball(store, str(path), name="localhost:5000/busybox:latest")
    assert image.diff_ids == [dg.of_bytes(rootfs)]
    assert store.blobs.path(image.diff_ids[0]).read_bytes() == rootfs
    host = platform.host()
    assert (image.config.os, image.config.architecture) == (host.os, host.architecture)
    (entry,) = image.config.history
    assert entry.comment == f"Imported from {path}" and "ADD file:" in entry.created_by
    assert store.resolve("localhost:5000/busybox").id == image.id
    assert fsck(store).ok


def test_import_from_a_stream_with_changes_and_message(store, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "86400")
    stream = io.BufferedReader(io.BytesIO(gzip.compress(_rootfs())))
    image = import_tarball(store, "-", stream, message="from ci",
                           changes=['CMD ["/bin/sh", "-c", "echo hi"]', "ENV A=1 B=two", "WORKDIR /srv",
                                    "LABEL x=y", "EXPOSE 80/udp", "USER nobody"])
    cfg = image.config.config
    assert cfg.cmd == ["/bin/sh", "-c", "echo hi"] and cfg.env == ["A=1", "B=two"]
    assert cfg.working_dir == "/srv" and cfg.labels == {"x": "y"} and cfg.user == "nobody"
    assert cfg.exposed_ports == {"80/udp": {}}
    assert image.config.created == "1970-01-02T00:00:00.000000Z"
    assert image.config.history[0].comment == "from ci"
    assert image.tags == () and store.tags_by_digest() == {image.manifest_digest: []}
    # Same input, same time: the same image.
    again = import_tarball(store, "-", io.BufferedReader(io.BytesIO(gzip.compress(_rootfs()))), message="from ci",
                           changes=['CMD ["/bin/sh", "-c", "echo hi"]', "ENV A=1 B=two", "WORKDIR /srv",
                                    "LABEL x=y", "EXPOSE 80/udp", "USER nobody"])
    assert again.id == image.id


@pytest.mark.parametrize("data, message", [
    (b"this is not a tarball at all, just text" * 20, "not a tar archive"),
    (b"short", "not a tar archive"),
    (gzip.compress(_rootfs() + os.urandom(300000))[:-5000], "corrupt"),
])
def test_import_refuses_what_is_not_a_tarball(store, tmp_path, data, message):
    path = tmp_path / "in"
    path.write_bytes(data)
    with pytest.raises(ArchiveError, match=message):
        import_tarball(store, str(path), name="x")
    assert list(store.blobs.list()) == [] and store.entries() == []
    assert not any(store.tmp_dir.iterdir())


def _write_layout(root, blobs: dict[str, bytes], index: dict) -> None:
    (root / "blobs/sha256").mkdir(parents=True)
    for data in blobs.values():
        (root / "blobs/sha256" / dg.of_bytes(data).split(":")[1]).write_bytes(data)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text(json.dumps(index))


def test_multi_platform_index_loads_the_host_image(other_store, layer_tar, tmp_path):
    host = platform.host()
    blobs, manifests = {}, []
    for arch in ("s390x", host.architecture, "riscv64"):
        layer = gzip.compress(layer_tar({"arch": arch.encode()}))
        diff_id = dg.of_bytes(gzip.decompress(layer))
        config = json.dumps({"architecture": arch, "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
        config_desc = {"mediaType": mt.OCI_CONFIG, "digest": dg.of_bytes(config), "size": len(config)}
        manifest = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "config": config_desc,
                               "layers": [{"mediaType": mt.OCI_LAYER_GZIP, "digest": dg.of_bytes(layer),
                                           "size": len(layer)}]}).encode()
        blobs.update({f"l{arch}": layer, f"c{arch}": config, f"m{arch}": manifest})
        manifests.append({"mediaType": mt.OCI_MANIFEST, "digest": dg.of_bytes(manifest), "size": len(manifest),
                          "platform": {"architecture": arch, "os": "linux"}})
    index = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": manifests}).encode()
    blobs["index"] = index
    top = {"schemaVersion": 2, "manifests": [{"mediaType": mt.OCI_INDEX, "digest": dg.of_bytes(index),
                                              "size": len(index),
                                              "annotations": {mt.ANNOTATION_REF_NAME: "multi:1"}}]}
    _write_layout(tmp_path / "layout", blobs, top)

    (loaded,) = load(other_store, tmp_path / "layout")

    assert loaded.names == ("multi:1",)
    assert loaded.image.config.architecture == host.architecture
    # Layers were gzip: the store keeps them uncompressed, the config (image ID) unchanged.
    assert loaded.image.id == dg.of_bytes(blobs[f"c{host.architecture}"])
    assert loaded.image.manifest.layers[0].media_type == mt.OCI_LAYER
    assert len(list(other_store.blobs.list())) == 3  # the other platforms' blobs were not copied
    assert fsck(other_store).ok


def test_a_layer_stored_compressed_is_expanded_or_recompressed(store, other_store, layer_tar, tmp_path):
    plain = layer_tar({"f": b"stored gzip" * 500})
    packed = gzip.compress(plain)
    digest = store.blobs.put_bytes(packed)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [dg.of_bytes(plain)]}}).encode()
    image = store.write_image(config, [Descriptor(mediaType=mt.OCI_LAYER_GZIP, digest=digest, size=len(packed))])
    store.tag(image, "gz")
    for fmt, compression in (("docker-archive", "none"), ("oci-archive", "zstd"), ("oci-archive", "gzip")):
        out = tmp_path / f"{fmt}-{compression}.tar"
        save(store, ["gz"], str(out), fmt, compression)
        (loaded,) = load(other_store, out)
        assert loaded.image.id == image.id
        assert other_store.blobs.path(loaded.image.diff_ids[0]).read_bytes() == plain
    assert store.get_record(VARIANTS, f"{digest}-none")["digest"] == dg.of_bytes(plain)
    assert fsck(store).ok and fsck(other_store).ok
