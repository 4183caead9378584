"""--compression-format gzip|zstd|zstd:chunked and --compression-level on push, save and
build outputs, read back by the real consumers: a docker-registry, skopeo, podman."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest
import zstandard
from reghelp import ok, sha256, skopeo_copy, skopeo_raw

from rootless_build.layers.zstdchunked import read_toc

pytestmark = pytest.mark.registry

ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
CHECKSUM = "io.github.containers.zstd-chunked.manifest-checksum"
POSITION = "io.github.containers.zstd-chunked.manifest-position"
OLD_CHECKSUM = "io.containers.zstd-chunked.manifest-checksum"  # what podman 4.3 reads


@pytest.fixture
def local_busybox(rb, busybox_tar):
    ok(rb("import", "-c", 'CMD ["sh"]', busybox_tar, "e2e-comp/busybox:1"))
    return "e2e-comp/busybox:1"


def _diff_ids(rb, name: str) -> list[str]:
    store_index = json.loads((rb.root / "index.json").read_text())
    for entry in store_index["manifests"]:
        if entry.get("annotations", {}).get("org.opencontainers.image.ref.name", "").endswith(name.split("/")[-1]):
            doc = json.loads((rb.root / "blobs/sha256" / entry["digest"][7:]).read_bytes())
            config = json.loads((rb.root / "blobs/sha256" / doc["config"]["digest"][7:]).read_bytes())
            return config["rootfs"]["diff_ids"]
    raise AssertionError(f"{name} not in the store")


def _check_chunked_blob(blob: bytes, descriptor: dict, busybox_tar: Path, diff_id: str) -> None:
    """The blob is the stored tar when decompressed; its TOC is where the annotations say,
    and names each file's frame, whose content hashes to the TOC digest."""
    ann = descriptor["annotations"]
    assert ann[CHECKSUM] == ann[OLD_CHECKSUM]
    offset, length, _, kind = map(int, ann[POSITION].split(":"))
    assert kind == 1 and sha256(blob[offset:offset + length]) == ann[CHECKSUM]
    whole = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob), read_across_frames=True).read()
    assert sha256(whole) == diff_id
    toc = read_toc(io.BytesIO(blob))
    entry = next(e for e in toc["entries"] if e["name"].lstrip("./") == "bin/busybox")
    with tarfile.open(busybox_tar) as tar:
        member = tar.extractfile("./bin/busybox" if "./bin/busybox" in tar.getnames() else "bin/busybox")
        content = member.read()
    assert entry["digest"] == sha256(content) and entry["size"] == len(content)
    frame = blob[entry["offset"]:entry["endOffset"]]
    assert zstandard.ZstdDecompressor().decompressobj().decompress(frame) == content


def test_push_zstd_chunked_pulled_by_skopeo_and_podman(rb, registry, local_busybox, isolated_env, tmp_path,
                                                       busybox_tar):
    dest = f"{registry}/e2e-comp/chunked:1"
    ok(rb("push", "--compression-format", "zstd:chunked", local_busybox, dest, env=isolated_env))
    manifest = json.loads(skopeo_raw(f"docker://{dest}"))
    [layer] = manifest["layers"]
    assert layer["mediaType"] == ZSTD and POSITION in layer["annotations"]
    [diff_id] = _diff_ids(rb, local_busybox)
    # skopeo copies it (verifying every blob's digest) into a layout we read back.
    layout = tmp_path / "copied"
    skopeo_copy(f"docker://{dest}", f"oci:{layout}:x")
    blob = (layout / "blobs/sha256" / layer["digest"][7:]).read_bytes()
    _check_chunked_blob(blob, layer, busybox_tar, diff_id)
    # podman pulls it (a full pull where it does not use the table) and sees our diff_ids.
    if shutil.which("podman") is None:
        pytest.skip("podman not installed")
    base = Path(tempfile.mkdtemp(prefix="rbz-", dir="/tmp"))
    podman = ["podman", "--root", str(base / "root"), "--runroot", str(base / "run"), "--storage-driver", "vfs"]
    try:
        pulled = subprocess.run([*podman, "pull", "--tls-verify=false", dest], capture_output=True, text=True,
                                timeout=300, stdin=subprocess.DEVNULL)
        assert pulled.returncode == 0, pulled.stderr
        inspected = subprocess.run([*podman, "image", "inspect", dest], capture_output=True, text=True, timeout=120)
        assert inspected.returncode == 0, inspected.stderr
        assert json.loads(inspected.stdout)[0]["RootFS"]["Layers"] == [diff_id]
        run = subprocess.run([*podman, "run", "--rm", "--network", "none", dest, "/bin/busybox", "echo", "chunked"],
                             capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        assert run.returncode == 0 and run.stdout.strip() == "chunked", run.stderr
    finally:
        subprocess.run(["podman", "unshare", "rm", "-rf", str(base)], capture_output=True, timeout=120)
        shutil.rmtree(base, ignore_errors=True)


def test_save_zstd_chunked_with_a_level(rb, local_busybox, tmp_path, busybox_tar):
    archive = tmp_path / "img.tar"
    ok(rb("save", "--compression-format", "zstd:chunked", "--compression-level", "9", "-o", str(archive),
          local_busybox))
    layout = tmp_path / "out"
    skopeo_copy(f"oci-archive:{archive}", f"oci:{layout}:x")
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads((layout / "blobs/sha256" / index["manifests"][0]["digest"][7:]).read_bytes())
    [layer] = manifest["layers"]
    [diff_id] = _diff_ids(rb, local_busybox)
    _check_chunked_blob((layout / "blobs/sha256" / layer["digest"][7:]).read_bytes(), layer, busybox_tar, diff_id)
    # the level is part of the remembered variant's name: level 3 is another blob
    names = sorted(p.name for p in (rb.root / "cache" / "variants").iterdir())
    assert names and all(n.endswith("zstd:chunked+9".replace(":", "-")) for n in names)


def test_build_output_compression(rb, local_busybox, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "data").write_bytes(b"compress me " * 100_000)
    (context / "Dockerfile").write_text(f"FROM {local_busybox}\nCOPY data /data\n")
    fast, best = tmp_path / "fast.tar", tmp_path / "best.tar"
    ok(rb("build", "-t", "e2e-comp/built", "--compression-format", "zstd", "--compression-level", "1",
          "-o", f"type=oci,dest={fast}", str(context)))
    ok(rb("build", "-t", "e2e-comp/built", "-o", f"type=oci,dest={best},compression=zstd,compression-level=19",
          str(context)))
    sizes = []
    for archive in (fast, best):
        layout = tmp_path / f"{archive.stem}-layout"
        skopeo_copy(f"oci-archive:{archive}", f"oci:{layout}:x")
        index = json.loads((layout / "index.json").read_text())
        manifest = json.loads((layout / "blobs/sha256" / index["manifests"][0]["digest"][7:]).read_bytes())
        assert {layer["mediaType"] for layer in manifest["layers"]} == {ZSTD}
        sizes.append(manifest["layers"][-1]["size"])
    assert sizes[1] < sizes[0]  # level 19 beats level 1 on the same content


def test_bad_compression_flags_are_one_line(rb, local_busybox, tmp_path):
    proc = rb("save", "--compression-format", "zstd", "--compression-level", "99", "-o", str(tmp_path / "x.tar"),
              local_busybox)
    assert proc.returncode != 0 and proc.stderr.strip().count("\n") == 0 and "out of range" in proc.stderr
    proc = rb("build", "-o", f"type=oci,dest={tmp_path / 'y.tar'},compression=lz4", str(tmp_path))
    assert proc.returncode != 0 and "Traceback" not in proc.stderr and "lz4" in proc.stderr
    assert not (tmp_path / "x.tar").exists()
