"""Documents that enter the store are validated once, where they enter (pull, load,
import), and every layer's content is checked against the config's diff_id: a hostile
image is refused with one line naming the image and the field, and the store keeps what
it had (earlier images intact, fsck clean)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from reghelp import skopeo_raw
from reghostile import HostileRegistry
from regpush import (
    OCI_INDEX,
    OCI_MANIFEST,
    Pusher,
    config_doc,
    descriptor,
    digest,
    encode,
    gzipped,
    layer_tar,
    manifest_doc,
)

pytestmark = pytest.mark.rootless

EVIL_LAYER = layer_tar({"bin/sh": b"#!/evil\n", "etc/passwd": b"root::0:0::/:/bin/sh\n"})
EVIL_DIFF_ID = digest(EVIL_LAYER)


def snapshot(root: Path) -> tuple[list[str], bytes]:
    blobs = sorted(str(p.relative_to(root)) for p in (root / "blobs").rglob("*") if p.is_file())
    return blobs, (root / "index.json").read_bytes()


def refused(proc, *needles: str) -> str:
    assert proc.returncode != 0, proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def intact(rb, before: tuple[list[str], bytes], expected_images: list[str]) -> None:
    assert snapshot(rb.root) == before
    assert not [p for p in (rb.root / "tmp").rglob("*") if p.is_file()]
    fsck = rb("fsck")
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    shown = rb("images", "--format", "{{.Repository}}:{{.Tag}}")
    assert shown.returncode == 0 and sorted(shown.stdout.split()) == sorted(expected_images), shown


# --- hostile configs: pushed to a real registry with plain HTTP, and loaded from archives ---

def _mutate(**changes):
    def make(diff_ids):
        doc = config_doc(diff_ids)
        for path, value in changes.items():
            where = doc
            *parents, last = path.split(".")
            for key in parents:
                where = where[key]
            where[last] = value
        return encode(doc)
    return make


CONFIGS = {
    "not-json": (lambda diff_ids: b"{not json", "image config is not valid JSON"),
    "json-array": (lambda diff_ids: b"[1, 2]", "image config is not a JSON object"),
    "env-nul": (_mutate(**{"config.Env": ["A=1\0b"]}), "config.Env.0: contains a NUL byte"),
    "cmd-nul": (_mutate(**{"config.Cmd": ["sh\0-c"]}), "config.Cmd.0: contains a NUL byte"),
    "cmd-string": (_mutate(**{"config.Cmd": "sh"}), "config.Cmd: Input should be a valid list"),
    "env-string": (_mutate(**{"config.Env": "A=1"}), "config.Env: Input should be a valid list"),
    "user-overflow": (_mutate(**{"config.User": "4294967296"}), "config.User: id 4294967296 is out of range"),
    "user-number": (_mutate(**{"config.User": 0}), "config.User: Input should be a valid string"),
    "rootfs-list": (_mutate(rootfs=[]), "rootfs: Input should be"),
    "rootfs-type": (_mutate(**{"rootfs.type": "tarballs"}), "rootfs.type"),
    "history-map": (_mutate(history={}), "history: Input should be a valid list"),
    "diff-id-bad": (_mutate(**{"rootfs.diff_ids": ["sha256:zz"]}), "rootfs.diff_ids.0: not a sha256/sha512 digest"),
    "diff-ids-count": (_mutate(**{"rootfs.diff_ids": []}), "rootfs.diff_ids lists 0 layers, the manifest 1"),
}


@pytest.fixture
def with_busybox(rb, pushed_busybox, isolated_env):
    """The store holds busybox, pulled from the registry; returns (name, snapshot)."""
    proc = rb("pull", "-q", pushed_busybox, env=isolated_env)
    assert proc.returncode == 0, proc.stderr
    return pushed_busybox, snapshot(rb.root)


@pytest.mark.registry
@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_pull_refuses_a_malformed_config(rb, registry, with_busybox, isolated_env, case):
    busybox, before = with_busybox
    make, message = CONFIGS[case]
    layer = gzipped(EVIL_LAYER)
    Pusher(registry, f"hostile/config-{case}").image("latest", make([EVIL_DIFF_ID]), [layer])
    name = f"{registry}/hostile/config-{case}:latest"
    refused(rb("pull", name, env=isolated_env), name, message)
    intact(rb, before, [busybox])


@pytest.mark.registry
def test_pull_refuses_a_layer_that_claims_another_images_diff_id(rb, registry, with_busybox, isolated_env):
    busybox, before = with_busybox
    busybox_diff_id = json.loads(skopeo_raw(f"docker://{busybox}", "--config"))["rootfs"]["diff_ids"][0]
    pusher = Pusher(registry, "hostile/poison")
    pusher.image("latest", encode(config_doc([busybox_diff_id])), [gzipped(EVIL_LAYER)])
    name = f"{registry}/hostile/poison:latest"
    refused(rb("pull", name, env=isolated_env), name, "layer 1 is corrupt", busybox_diff_id)
    intact(rb, before, [busybox])
    # busybox itself still runs from its own, unpoisoned layer
    run = rb("run", "--rm", busybox, "cat", "/etc/passwd", env=isolated_env)
    assert run.returncode == 0 and "root::0:0::/:/bin/sh" not in run.stdout, run.stderr


@pytest.mark.registry
def test_pull_refuses_a_layer_that_does_not_uncompress(rb, registry, with_busybox, isolated_env):
    busybox, before = with_busybox
    broken = gzipped(EVIL_LAYER)[:-40] + b"\0" * 40  # a gzip stream with a mangled end
    Pusher(registry, "hostile/broken-gzip").image("latest", encode(config_doc([EVIL_DIFF_ID])), [broken])
    name = f"{registry}/hostile/broken-gzip:latest"
    refused(rb("pull", name, env=isolated_env), name, "layer 1", "cannot be uncompressed")
    intact(rb, before, [busybox])


@pytest.mark.registry
def test_pull_refuses_a_stored_layer_claimed_under_another_diff_id(rb, registry, with_busybox, isolated_env):
    """The layer blob is busybox's, already in the store: its content is checked too."""
    busybox, before = with_busybox
    layer = json.loads(skopeo_raw(f"docker://{busybox}"))["layers"][0]
    pusher = Pusher(registry, "hostile/reuse")
    config = encode(config_doc([EVIL_DIFF_ID]))
    pusher.blob(config)
    raw = encode({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(
        "application/vnd.oci.image.config.v1+json", config), "layers": [layer]})
    # the layer blob is mounted from busybox's repository, as a registry would share it
    resp = pusher.http.post(f"{pusher.base}/v2/hostile/reuse/blobs/uploads/",
                            params={"mount": layer["digest"], "from": busybox.split("/", 1)[1].split(":")[0]})
    assert resp.status_code == 201, resp.text
    pusher.manifest("latest", raw)
    name = f"{registry}/hostile/reuse:latest"
    refused(rb("pull", name, env=isolated_env), name, "layer 1 is corrupt", EVIL_DIFF_ID)
    intact(rb, before, [busybox])


# --- manifests and indexes a real registry would refuse: served by a hostile one ------------

def _index(entry_changes: dict, drop: str | None = None) -> bytes:
    config = encode(config_doc([EVIL_DIFF_ID]))
    manifest = encode(manifest_doc(config, [gzipped(EVIL_LAYER)]))
    entry = {**descriptor(OCI_MANIFEST, manifest), "platform": {"architecture": "amd64", "os": "linux"},
             **entry_changes}
    if drop:
        del entry[drop]
    return encode({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]})


def _manifest(**changes) -> bytes:
    doc = manifest_doc(encode(config_doc([EVIL_DIFF_ID])), [gzipped(EVIL_LAYER)])
    for key, value in changes.items():
        if key.startswith("config_"):
            doc["config"][key.removeprefix("config_")] = value
        else:
            doc[key] = value
    return encode(doc)


DOCUMENTS = {
    "index-entry-without-digest": (OCI_INDEX, _index({}, drop="digest"),
                                   "image index is malformed: manifests.0.digest"),
    "index-digest-number": (OCI_INDEX, _index({"digest": 5}), "manifests.0.digest: Input should be a valid string"),
    "index-annotations-list": (OCI_INDEX, _index({"annotations": ["x"]}), "manifests.0.annotations"),
    "index-annotation-number": (OCI_INDEX, _index({"annotations": {"a": 1}}), "manifests.0.annotations.a"),
    "index-manifests-map": (OCI_INDEX, encode({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": {}}),
                            "manifests: Input should be a valid list"),
    "manifest-layers-map": (OCI_MANIFEST, _manifest(layers={}), "manifest is malformed: layers"),
    "manifest-config-digest": (OCI_MANIFEST, _manifest(config_digest="sha256:zz"), "config.digest: not a sha256"),
    "manifest-size-string": (OCI_MANIFEST, _manifest(config_size="12"), "config.size: Input should be a valid integer"),
    "manifest-size-negative": (OCI_MANIFEST, _manifest(config_size=-1), "config.size"),
    "manifest-array": (OCI_MANIFEST, b"[]", "manifest"),
}


@pytest.mark.parametrize("case", sorted(DOCUMENTS))
def test_pull_refuses_malformed_manifests_and_indexes(rb, with_busybox, isolated_env, case):
    busybox, before = with_busybox
    media_type, body, message = DOCUMENTS[case]
    hostile = HostileRegistry("documents", {"/v2/evil/app/manifests/latest": (media_type, body)})
    try:
        name = f"{hostile.address}/evil/app:latest"
        refused(rb("pull", name, env=isolated_env, timeout=60), message)
    finally:
        hostile.close()
    intact(rb, before, [busybox])


# --- the same through load (archives built here) and import ---------------------------------

BUSYBOX_NAME = "localhost:5000/busybox:latest"


@pytest.fixture
def with_imported_busybox(rb, busybox_tar):
    assert rb("import", busybox_tar, BUSYBOX_NAME).returncode == 0
    return snapshot(rb.root)


def oci_archive(path: Path, config: bytes, index: bytes | None = None) -> Path:
    layer = EVIL_LAYER
    manifest = encode({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": descriptor("application/vnd.oci.image.config.v1+json", config),
                       "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", layer)]})
    if index is None:
        index = encode({"schemaVersion": 2, "manifests": [{
            **descriptor(OCI_MANIFEST, manifest), "annotations": {"org.opencontainers.image.ref.name": "evil:1"}}]})
    files = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}', "index.json": index}
    for blob in (config, layer, manifest):
        files[f"blobs/sha256/{digest(blob)[7:]}"] = blob
    return _tar(path, files)


def _tar(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_load_refuses_a_malformed_config(rb, with_imported_busybox, tmp_path, case):
    make, message = CONFIGS[case]
    archive = oci_archive(tmp_path / "evil.tar", make([EVIL_DIFF_ID]))
    refused(rb("load", "-i", archive), str(archive), "evil:1", message)
    intact(rb, with_imported_busybox, [BUSYBOX_NAME])


@pytest.mark.parametrize("case", sorted(k for k in DOCUMENTS if k.startswith("index-")))
def test_load_refuses_a_malformed_index(rb, with_imported_busybox, tmp_path, case):
    _, index, message = DOCUMENTS[case]
    archive = oci_archive(tmp_path / "evil.tar", encode(config_doc([EVIL_DIFF_ID])), index)
    refused(rb("load", "-i", archive), str(archive), "index.json", message)
    intact(rb, with_imported_busybox, [BUSYBOX_NAME])


@pytest.mark.parametrize("tags,message", [
    (["UPPER/case:1"], "repository name must be lowercase"),
    ("evil:1", "RepoTags: not a list of names"),
    ([7], "RepoTags: not a list of names"),
])
def test_load_refuses_malformed_repo_tags(rb, with_imported_busybox, tmp_path, tags, message):
    config = encode(config_doc([EVIL_DIFF_ID]))
    files = {"manifest.json": encode([{"Config": "config.json", "RepoTags": tags, "Layers": ["layer.tar"]}]),
             "config.json": config, "layer.tar": EVIL_LAYER}
    refused(rb("load", "-i", _tar(tmp_path / "evil.tar", files)), message)
    intact(rb, with_imported_busybox, [BUSYBOX_NAME])


def test_load_refuses_a_layer_that_claims_another_diff_id(rb, with_imported_busybox, tmp_path):
    busybox_diff_id = json.loads(rb("inspect", BUSYBOX_NAME).stdout)[0]["RootFS"]["Layers"][0]
    archive = oci_archive(tmp_path / "evil.tar", encode(config_doc([busybox_diff_id])))
    refused(rb("load", "-i", archive), "layer 1 is corrupt", busybox_diff_id)
    intact(rb, with_imported_busybox, [BUSYBOX_NAME])


@pytest.mark.parametrize("change,message", [
    ("USER 4294967296", "config.User: id 4294967296 is out of range"),
    ('CMD ["sh", "\\u0000"]', "config.Cmd.1: contains a NUL byte"),
])
def test_import_refuses_a_malformed_change(rb, with_imported_busybox, busybox_tar, change, message):
    refused(rb("import", "--change", change, busybox_tar, "evil:1"), "evil:1", message)
    intact(rb, with_imported_busybox, [BUSYBOX_NAME])
