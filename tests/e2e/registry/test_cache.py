"""The build cache shared through the real registry: steps exported from one store are
found by key from a second, empty store, which fetches only the blobs those steps need."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
from reghelp import ok, skopeo_raw

pytestmark = pytest.mark.registry


def layer_tar(name: str, text: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        data = (text * 2000).encode()
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def add_step(store, parent, name: str, text: str):
    """A step image: the parent's layers plus one new uncompressed layer, as a build makes."""
    from rootless_build.oci import mediatypes as mt
    from rootless_build.oci.models import Descriptor

    data = layer_tar(name, text)
    digest = store.blobs.put_bytes(data)
    config = json.loads(parent.config_bytes)
    config["rootfs"]["diff_ids"].append(digest)
    config.setdefault("history", []).append({"created_by": f"RUN make {name}"})
    layers = [*parent.manifest.layers, Descriptor(mediaType=mt.OCI_LAYER, digest=digest, size=len(data))]
    return store.write_image(json.dumps(config, sort_keys=True).encode(), layers)


@pytest.fixture
def exported(rb, registry, busybox_tar, tmp_path):
    from rootless_build.registry.cache import export_cache
    from rootless_build.registry.conf import RegistriesConf
    from rootless_build.store import Store

    ok(rb("import", busybox_tar, "e2e-cache/base:1"))
    store = Store.open(rb.root)
    base = store.resolve("e2e-cache/base:1")
    step1 = add_step(store, base, "one.txt", "one ")
    step2 = add_step(store, step1, "two.txt", "two ")
    other = add_step(store, base, "other.txt", "other ")
    ref = f"{registry}/e2e-cache/app-{tmp_path.name}"
    export_cache(store, ref, {"k1": step1, "k2": step2, "k-other": other}, conf=RegistriesConf())
    return ref, {"base": base, "k1": step1, "k2": step2, "k-other": other}


def test_cache_is_an_artifact_skopeo_reads(exported):
    ref, steps = exported
    manifest = json.loads(skopeo_raw(f"docker://{ref}:buildcache"))
    assert manifest["artifactType"] == "application/vnd.rootless-build.cache.v1"
    listed = {d["digest"] for d in manifest["layers"]}
    assert {s.manifest_digest for s in steps.values() if s is not steps["base"]} <= listed
    gz = [d for d in manifest["layers"] if d["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"]
    assert len(gz) == 4  # busybox + one + two + other, each compressed once


def test_second_store_fetches_only_what_the_step_needs(exported, tmp_path, fault_proxy):
    from rootless_build.registry.cache import RemoteCache
    from rootless_build.registry.conf import RegistriesConf
    from rootless_build.store import Store
    from rootless_build.store.fsck import fsck

    ref, steps = exported
    proxied = fault_proxy.address + ref[ref.index("/"):]
    store = Store.open(tmp_path / "second")
    remote = RemoteCache(store, proxied, conf=RegistriesConf())
    assert "k2" in remote and "nope" not in remote
    assert remote.fetch("nope") is None

    image = remote.fetch("k2")
    assert image.manifest_digest == steps["k2"].manifest_digest  # same bytes: later keys match
    for layer in steps["k2"].manifest.layers:
        assert store.blobs.has(layer.digest)  # stored uncompressed, as the first store has them
    assert fsck(store).ok
    assert not store.blobs.has(steps["k-other"].manifest.layers[-1].digest)
    fetched = {s.path.rsplit("/", 1)[1] for s in fault_proxy.requests("GET", "/blobs/")}
    carriers = {remote.index.layers[layer.digest]["digest"] for layer in steps["k2"].manifest.layers}
    needed = {steps["k2"].manifest_digest, steps["k2"].id, *carriers}
    assert needed <= fetched and len(fetched - needed) == 1  # plus the cache's own index config

    # The compressed blobs are remembered as variants: pushing again compresses nothing.
    variants = list((tmp_path / "second" / "cache" / "variants").iterdir())
    assert len(variants) == 3

    # A step whose layers are all here now costs only its manifest and config.
    before = {s.path for s in fault_proxy.requests("GET", "/blobs/")}
    assert remote.fetch("k1").manifest_digest == steps["k1"].manifest_digest
    new = {s.path.rsplit("/", 1)[1] for s in fault_proxy.requests("GET", "/blobs/")} - {
        p.rsplit("/", 1)[1] for p in before}
    assert new == {steps["k1"].manifest_digest, steps["k1"].id}


def test_exports_merge(exported, rb):
    from rootless_build.registry.cache import RemoteCache, export_cache
    from rootless_build.registry.conf import RegistriesConf
    from rootless_build.store import Store

    ref, steps = exported
    store = Store.open(rb.root)
    extra = add_step(store, steps["k2"], "three.txt", "three ")
    export_cache(store, ref, {"k3": extra}, conf=RegistriesConf())
    remote = RemoteCache(store, ref, conf=RegistriesConf())
    assert set(remote.index.steps) == {"k1", "k2", "k-other", "k3"}


def test_no_cache_yet_is_empty(registry, tmp_path):
    from rootless_build.registry.cache import RemoteCache
    from rootless_build.registry.conf import RegistriesConf
    from rootless_build.store import Store

    remote = RemoteCache(Store.open(tmp_path / "s"), f"{registry}/e2e-cache/never-written", conf=RegistriesConf())
    assert remote.index.steps == {} and remote.fetch("k") is None
