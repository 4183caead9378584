"""push to a real docker-registry; the result is read back with skopeo and run with podman."""

from __future__ import annotations

import json
import math
import shutil

import pytest
from reghelp import ok, sha256, skopeo_copy, skopeo_raw

pytestmark = pytest.mark.registry

GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"


@pytest.fixture
def local_busybox(rb, busybox_tar):
    """busybox imported into the store: its layer is stored uncompressed."""
    ok(rb("import", "-c", 'CMD ["sh"]', busybox_tar, "e2e-push/busybox:1"))
    return "e2e-push/busybox:1"


def test_push_then_skopeo_copy_then_podman_run(rb, registry, local_busybox, isolated_env, tmp_path, tool):
    dest = f"{registry}/e2e-push/runme:1"
    proc = ok(rb("push", local_busybox, dest, env=isolated_env))
    lines = proc.stdout.splitlines()
    assert lines[0] == f"The push refers to repository [{registry}/e2e-push/runme]"
    assert any(line.endswith(": Pushed") for line in lines)
    raw = skopeo_raw(f"docker://{dest}")
    assert lines[-1] == f"1: digest: {sha256(raw)} size: {len(raw)}"
    manifest = json.loads(raw)
    assert [layer["mediaType"] for layer in manifest["layers"]] == [GZIP]
    # The config (and so the image ID and diff_ids) is the stored one, byte for byte.
    local = json.loads(ok(rb("inspect", local_busybox)).stdout)
    local = local[0] if isinstance(local, list) else local
    assert manifest["config"]["digest"].endswith(local["Id"].removeprefix("sha256:"))
    # A real peer reads it: skopeo copies it out, podman runs it rootless.
    layout = tmp_path / "copied"
    skopeo_copy(f"docker://{dest}", f"oci:{layout}:runme")
    if shutil.which("podman") is None:
        pytest.skip("podman not installed")
    run = tool("podman", "run", "--rm", "--rmi", f"oci:{layout}:runme", "/bin/busybox", "echo",
               "hello from the registry", timeout=300)
    assert run.stdout.strip() == "hello from the registry"


def test_second_push_reuses_the_compressed_variant(rb, registry, local_busybox, isolated_env):
    dest = f"{registry}/e2e-push/twice:1"
    ok(rb("push", local_busybox, dest, env=isolated_env))
    variants = list((rb.root / "cache" / "variants").iterdir())
    assert len(variants) == 1
    record = json.loads(variants[0].read_text())
    blob = rb.root / "blobs" / "sha256" / record["digest"][7:]
    before = blob.stat().st_mtime_ns
    proc = ok(rb("push", local_busybox, dest, env=isolated_env))
    assert "Layer already exists" in proc.stdout and "Pushed" not in proc.stdout
    assert blob.stat().st_mtime_ns == before
    assert list((rb.root / "cache" / "variants").iterdir()) == variants


def test_push_to_a_sibling_repository_mounts_the_blob(rb, registry, local_busybox, isolated_env):
    ok(rb("push", local_busybox, f"{registry}/e2e-push/first:1", env=isolated_env))
    proc = ok(rb("push", local_busybox, f"{registry}/e2e-push/second:1", env=isolated_env))
    assert "Mounted from e2e-push/first" in proc.stdout
    assert skopeo_raw(f"docker://{registry}/e2e-push/second:1") == skopeo_raw(f"docker://{registry}/e2e-push/first:1")


def test_chunked_upload(rb, fault_proxy, local_busybox, isolated_env):
    dest = f"{fault_proxy.address}/e2e-push/chunked:1"
    ok(rb("push", "--chunk-size", "256KiB", local_busybox, dest, env=isolated_env))
    manifest = json.loads(skopeo_raw(f"docker://{dest}"))
    size = manifest["layers"][0]["size"]
    patches = fault_proxy.requests("PATCH", "/blobs/uploads/")
    assert len(patches) == math.ceil(size / (256 * 1024)) and all(p.status == 202 for p in patches)
    # The registry checked the digest when the upload closed; skopeo can copy it.
    skopeo_copy(f"docker://{dest}", f"oci:{rb.root.parent / 'chunked'}:x")


def test_push_with_zstd(rb, registry, local_busybox, isolated_env, tmp_path):
    dest = f"{registry}/e2e-push/zstd:1"
    ok(rb("push", "--compression", "zstd", local_busybox, dest, env=isolated_env))
    manifest = json.loads(skopeo_raw(f"docker://{dest}"))
    assert [layer["mediaType"] for layer in manifest["layers"]] == [ZSTD]
    skopeo_copy(f"docker://{dest}", f"oci:{tmp_path / 'z'}:x")
    assert any(p.name.endswith("-zstd") for p in (rb.root / "cache" / "variants").iterdir())


def test_pulled_image_is_pushed_with_its_own_manifest(rb, registry, pushed_busybox, isolated_env):
    ok(rb("pull", "-q", pushed_busybox, env=isolated_env))
    dest = f"{registry}/e2e-push/copy:1"
    proc = ok(rb("push", pushed_busybox, dest, env=isolated_env))
    assert "Preparing" in proc.stdout
    assert skopeo_raw(f"docker://{dest}") == skopeo_raw(f"docker://{pushed_busybox}")
    assert "Mounted from e2e/busybox" in proc.stdout  # the pull remembered where the layer lives


def test_push_errors_are_one_line(rb, registry, local_busybox, isolated_env):
    missing = rb("push", "e2e-push/nothing:1", f"{registry}/e2e-push/x:1", env=isolated_env)
    assert missing.returncode != 0 and missing.stderr.count("\n") == 1
    assert "e2e-push/nothing" in missing.stderr
    digest = rb("push", local_busybox, f"{registry}/e2e-push/x@sha256:{'0' * 64}", env=isolated_env)
    assert digest.returncode == 125 and "digest" in digest.stderr
