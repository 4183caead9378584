"""pull against a real docker-registry, checked with skopeo (which pushed the images)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from reghelp import ok, sha256, skopeo_copy, skopeo_raw, umoci_image

pytestmark = pytest.mark.registry


def index_entries(store: Path) -> list[dict]:
    return json.loads((store / "index.json").read_text())["manifests"]


def test_pull_stores_the_image_as_the_registry_serves_it(rb, pushed_busybox, isolated_env, tool):
    raw = skopeo_raw(f"docker://{pushed_busybox}")
    proc = ok(rb("pull", pushed_busybox, env=isolated_env))
    lines = proc.stdout.splitlines()
    assert lines[0] == "latest: Pulling from e2e/busybox"  # the tag was given: no "Using default tag"
    layer = json.loads(raw)["layers"][0]["digest"]
    assert f"{layer[7:19]}: Pull complete" in lines
    assert f"Digest: {sha256(raw)}" in lines
    assert f"Status: Downloaded newer image for {pushed_busybox}" in lines
    assert lines[-1] == pushed_busybox
    # Same bytes in our store: skopeo reads the store as an OCI layout and agrees.
    ours = tool("skopeo", "inspect", "--raw", f"oci:{rb.root}:{pushed_busybox}").stdout.encode()
    assert ours == raw
    assert (rb.root / "blobs" / "sha256" / layer[7:]).stat().st_size == json.loads(raw)["layers"][0]["size"]
    assert "OK" in ok(rb("fsck")).stdout


def test_second_pull_downloads_nothing(rb, pushed_busybox, isolated_env):
    ok(rb("pull", "-q", pushed_busybox, env=isolated_env))
    untagged = pushed_busybox.removesuffix(":latest")
    proc = ok(rb("pull", untagged, env=isolated_env))
    assert proc.stdout.splitlines()[:2] == ["Using default tag: latest", "latest: Pulling from e2e/busybox"]
    assert "Already exists" in proc.stdout
    assert "Pull complete" not in proc.stdout
    assert f"Status: Image is up to date for {pushed_busybox}" in proc.stdout
    assert proc.stdout.splitlines()[-1] == pushed_busybox


def test_quiet_prints_only_the_reference(rb, pushed_busybox, isolated_env):
    proc = ok(rb("pull", "-q", pushed_busybox, env=isolated_env))
    assert proc.stdout == pushed_busybox + "\n"
    assert proc.stderr == ""


def test_pull_by_digest_keeps_the_image_untagged(rb, pushed_busybox, isolated_env):
    digest = sha256(skopeo_raw(f"docker://{pushed_busybox}"))
    name = pushed_busybox.rsplit(":", 1)[0]
    proc = ok(rb("pull", "-q", f"{name}@{digest}", env=isolated_env))
    assert proc.stdout.strip() == f"{name}@{digest}"
    entries = index_entries(rb.root)
    assert [e["digest"] for e in entries] == [digest]
    assert not entries[0].get("annotations")
    ok(rb("inspect", digest))


def test_unknown_image_is_a_one_line_error(rb, registry, isolated_env):
    proc = rb("pull", f"{registry}/e2e/does-not-exist:1", env=isolated_env)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "manifest unknown" in proc.stderr and "e2e/does-not-exist" in proc.stderr
    assert index_entries(rb.root) == []


def test_unreachable_registry_is_a_one_line_error(rb, isolated_env):
    from reghelp import free_port

    proc = rb("pull", f"127.0.0.1:{free_port()}/x:1", env=isolated_env)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "connection refused" in proc.stderr


# --- image index / manifest list -------------------------------------------------------------


@pytest.fixture(scope="session")
def two_platform_image(tmp_path_factory, registry, busybox_tar) -> tuple[str, dict]:
    """An index with linux/amd64 and linux/arm64 images (umoci), pushed with skopeo --all."""
    layout = tmp_path_factory.mktemp("multi") / "layout"
    umoci_image(layout, "amd", busybox_tar, label="platform=amd64")
    umoci_image(layout, "arm", busybox_tar, architecture="arm64", label="platform=arm64")
    index = json.loads((layout / "index.json").read_text())
    by_tag = {m["annotations"]["org.opencontainers.image.ref.name"]: m for m in index["manifests"]}
    children = []
    for tag, arch in (("amd", "amd64"), ("arm", "arm64")):
        desc = {k: v for k, v in by_tag[tag].items() if k != "annotations"}
        desc["platform"] = {"architecture": arch, "os": "linux"}
        children.append(desc)
    doc = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                      "manifests": children}).encode()
    digest = sha256(doc)
    (layout / "blobs" / "sha256" / digest[7:]).write_bytes(doc)
    index["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest,
                               "size": len(doc), "annotations": {"org.opencontainers.image.ref.name": "multi"}})
    (layout / "index.json").write_text(json.dumps(index))
    ref = f"{registry}/e2e/multi:latest"
    skopeo_copy(f"oci:{layout}:multi", f"docker://{ref}", "--all")
    return ref, {"index": digest, "amd64": children[0]["digest"], "arm64": children[1]["digest"]}


@pytest.mark.parametrize("platform, arch", [(None, "amd64"), ("linux/arm64", "arm64"), ("linux/amd64", "amd64")])
def test_index_picks_the_platform(rb, two_platform_image, isolated_env, platform, arch):
    ref, digests = two_platform_image
    args = ["pull", *(["--platform", platform] if platform else []), ref]
    proc = ok(rb(*args, env=isolated_env))
    assert f"Digest: {digests['index']}" in proc.stdout  # docker shows the list's digest
    assert [e["digest"] for e in index_entries(rb.root)] == [digests[arch]]
    inspect = json.loads(ok(rb("inspect", ref)).stdout)
    inspect = inspect[0] if isinstance(inspect, list) else inspect
    assert inspect["Architecture"] == arch
    assert "OK" in ok(rb("fsck")).stdout


def test_index_without_the_platform_says_what_it_has(rb, two_platform_image, isolated_env):
    ref, _ = two_platform_image
    proc = rb("pull", "--platform", "linux/s390x", ref, env=isolated_env)
    assert proc.returncode == 1
    assert "no image for linux/s390x" in proc.stderr and "linux/amd64, linux/arm64" in proc.stderr
    assert proc.stderr.count("\n") == 1
