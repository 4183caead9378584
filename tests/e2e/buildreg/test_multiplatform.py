"""build --platform a,b (RUN for arm64 through qemu-user + binfmt_misc), manifest lists
(`manifest create|add|inspect|rm|push`), and push/save of a list with all its images,
checked with skopeo and `file`."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import tarfile
import urllib.request
from pathlib import Path

import pytest

from rootless_build.builder.platform import registered_flags

pytestmark = pytest.mark.registry

INDEX = "application/vnd.oci.image.index.v1+json"
DOCKERFILE = """\
FROM {base}
ARG TARGETPLATFORM
ARG TARGETARCH
RUN cp /bin/busybox /made-by-run && uname -m > /arch && echo "$TARGETPLATFORM $TARGETARCH" > /target
"""


def missing_prerequisite(reason: str) -> None:
    if os.environ.get("CI"):  # as tests/conftest.py: a machine set-up gap fails under CI
        pytest.fail(f"machine set-up incomplete: {reason}", pytrace=False)
    pytest.skip(reason)


def ok(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def skopeo(*args: str) -> bytes:
    proc = subprocess.run(["skopeo", *args], capture_output=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


@pytest.fixture(scope="module")
def multi_base(seeded_registry: str) -> str:
    """busybox-multi:latest (amd64 + arm64), seeded by scripts/seed-registry.sh."""
    url = f"http://{seeded_registry}/v2/busybox-multi/tags/list"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            seeded = b'"latest"' in resp.read()
    except OSError:
        seeded = False
    if not seeded:
        missing_prerequisite(f"no busybox-multi:latest in {seeded_registry} (scripts/seed-registry.sh seeds it)")
    if "F" not in (registered_flags("aarch64") or ""):
        missing_prerequisite("qemu-aarch64 is not registered with binfmt_misc (scripts/setup-host.sh does it)")
    return f"{seeded_registry}/busybox-multi:latest"


def _last_layer_files(layout: Path) -> dict[str, bytes]:
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads((layout / "blobs/sha256" / index["manifests"][0]["digest"][7:]).read_bytes())
    blob = (layout / "blobs/sha256" / manifest["layers"][-1]["digest"][7:]).read_bytes()
    if blob[:2] == b"\x1f\x8b":
        blob = gzip.decompress(blob)
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        return {m.name.lstrip("./"): tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def _file(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "binary"
    path.write_bytes(data)
    return subprocess.run(["file", "-b", str(path)], capture_output=True, text=True, check=True).stdout


def test_two_platform_build_pushed_as_an_index(rb, registry, multi_base, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE.format(base=multi_base))
    ok(rb("build", "--tls-verify=false", "--platform", "linux/amd64,linux/arm64", "-t", "multi:1", str(context)))
    listed = json.loads(ok(rb("manifest", "inspect", "multi:1")).stdout)
    assert [m["platform"]["architecture"] for m in listed["manifests"]] == ["amd64", "arm64"]
    dest = f"{registry}/e2e-multi/app:1"
    ok(rb("push", "--tls-verify=false", "multi:1", dest))
    raw = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{dest}"))
    assert raw["mediaType"] == INDEX
    assert [(m["platform"]["os"], m["platform"]["architecture"]) for m in raw["manifests"]] == [
        ("linux", "amd64"), ("linux", "arm64")]
    expected = {"amd64": ("x86_64", "x86-64"), "arm64": ("aarch64", "ARM aarch64")}
    for arch, (machine, file_says) in expected.items():
        layout = tmp_path / f"out-{arch}"
        skopeo("copy", "--quiet", "--src-tls-verify=false", "--override-arch", arch, f"docker://{dest}",
               f"oci:{layout}:x")
        files = _last_layer_files(layout)
        assert files["arch"].decode().strip() == machine  # uname -m inside the RUN
        assert files["target"].decode().split() == [f"linux/{arch}", arch]
        assert file_says in _file(files["made-by-run"], tmp_path)
    # save keeps the list with both images
    archive = tmp_path / "multi.tar"
    ok(rb("save", "-o", str(archive), "multi:1"))
    saved = json.loads(skopeo("inspect", "--raw", f"oci-archive:{archive}:multi:1"))
    assert saved["mediaType"] == INDEX and len(saved["manifests"]) == 2
    # the same build again (cached) with -o type=oci: the archive holds the list
    out = tmp_path / "out.tar"
    ok(rb("build", "--tls-verify=false", "--platform", "linux/amd64,linux/arm64", "-t", "multi:1",
          "-o", f"type=oci,dest={out},compression=zstd", str(context)))
    exported = json.loads(skopeo("inspect", "--raw", f"oci-archive:{out}:multi:1"))
    assert [m["platform"]["architecture"] for m in exported["manifests"]] == ["amd64", "arm64"]
    # the base's name now holds the arm64 image (pulled last); a plain build still gets the
    # host's, from the stored index, without the registry
    ok(rb("build", "-q", "-t", "single:1", str(context)))
    config = json.loads(ok(rb("inspect", "single:1")).stdout)
    config = config[0] if isinstance(config, list) else config
    assert config["Architecture"] == "amd64"
    proc = rb("build", "--platform", "linux/amd64,linux/arm64", "-t", "multi:1", "-o", "type=local,dest=x",
              str(context))
    assert proc.returncode != 0 and "manifest list" in proc.stderr and "Traceback" not in proc.stderr


def test_manifest_commands(rb, registry, multi_base, tmp_path):
    ok(rb("pull", "--tls-verify=false", "--platform", "linux/arm64", multi_base))
    ok(rb("tag", multi_base, "bb:arm64"))
    ok(rb("pull", "--tls-verify=false", "--platform", "linux/amd64", multi_base))
    ok(rb("tag", multi_base, "bb:amd64"))
    ok(rb("manifest", "create", "mylist", "bb:amd64"))
    assert rb("manifest", "create", "mylist").returncode != 0  # exists: --amend to add
    ok(rb("manifest", "add", "--annotation", "note=arm", "mylist", "bb:arm64"))
    doc = json.loads(ok(rb("manifest", "inspect", "mylist")).stdout)
    assert [m["platform"]["architecture"] for m in doc["manifests"]] == ["amd64", "arm64"]
    assert doc["manifests"][1]["annotations"] == {"note": "arm"}
    # the images are not lists, the list is not an image
    assert rb("inspect", "mylist").returncode != 0
    dest = f"{registry}/e2e-multi/list:1"
    ok(rb("manifest", "push", "--tls-verify=false", "mylist", dest))
    raw = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{dest}"))
    assert raw["mediaType"] == INDEX
    # pulled (already compressed) images go with their own manifests, so the same digests
    assert [m["digest"] for m in raw["manifests"]] == [m["digest"] for m in doc["manifests"]]
    arm = json.loads(skopeo("inspect", "--raw", "--tls-verify=false",
                            f"docker://{registry}/e2e-multi/list@{raw['manifests'][1]['digest']}"))
    assert arm["layers"]
    ok(rb("manifest", "remove", "mylist", doc["manifests"][0]["digest"]))
    assert len(json.loads(ok(rb("manifest", "inspect", "mylist")).stdout)["manifests"]) == 1
    ok(rb("manifest", "rm", "mylist"))
    proc = rb("manifest", "inspect", "mylist")
    assert proc.returncode != 0 and "no such manifest list" in proc.stderr and "Traceback" not in proc.stderr
    assert ok(rb("fsck")).returncode == 0


def test_missing_emulator_is_one_line(rb, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\nRUN true\n")
    proc = rb("build", "--platform", "linux/nosucharch", str(tmp_path))
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("Error: Dockerfile:2: RUN true: RUN for nosucharch needs an emulator")
    assert "update-binfmts --enable qemu-nosucharch" in line
