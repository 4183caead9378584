"""Build outputs (-o), --squash/--squash-all and --format docker, each checked by a real
consumer: umoci unpack, tar, skopeo, podman, and the reference dockerd's `docker load`."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.rootless

DOCKERFILE = """\
FROM localhost:5000/busybox:latest
RUN mkdir -p /app/data && echo one > /app/data/one && chown 1000:1000 /app/data/one && rm /bin/vi
COPY hello.txt /app/hello.txt
RUN echo two > /app/data/two && ln /app/data/two /app/data/two-link && rm /app/data/one
HEALTHCHECK --interval=5s CMD ["true"]
CMD ["/bin/cat", "/app/hello.txt"]
"""


@pytest.fixture
def context(tmp_path: Path) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "hello.txt").write_text("hello outputs\n")
    return ctx


def _build(rb, context: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = rb("build", *args, context)
    assert proc.returncode == 0, proc.stderr
    return proc


def _tree(root: Path) -> dict[str, tuple[str, int, str]]:
    """path -> (kind, mode & 0o777, content or link target), as a consumer sees a rootfs."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = ("link", 0, str(path.readlink()))
        elif path.is_dir():
            out[rel] = ("dir", path.stat().st_mode & 0o777, "")
        elif path.is_file():
            out[rel] = ("file", path.stat().st_mode & 0o777, path.read_bytes().hex())
    return out


def test_local_output_matches_umoci_unpack(rb, busybox, context, tmp_path, inspect) -> None:
    dest = tmp_path / "rootfs"
    _build(rb, context, "-t", "out:local", "-o", f"type=local,dest={dest}")
    rootfs = inspect.unpack("out:local", tmp_path / "bundle")
    assert (dest / "app" / "hello.txt").read_text() == "hello outputs\n"
    assert not (dest / "app" / "data" / "one").exists() and not (dest / "bin" / "vi").exists()
    assert _tree(dest) == _tree(rootfs)
    short = tmp_path / "short"
    _build(rb, context, "-o", str(short))       # -o DIR is type=local
    assert _tree(short) == _tree(dest)


def test_tar_output_keeps_owners_and_links_and_goes_to_stdout(rb, busybox, context, tmp_path) -> None:
    out = tmp_path / "fs.tar"
    _build(rb, context, "-o", f"type=tar,dest={out}")
    with tarfile.open(out) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert tar.extractfile("app/hello.txt").read() == b"hello outputs\n"
    assert "app/data/one" not in members and "bin/vi" not in members
    assert members["app/data/two-link"].islnk() or members["app/data/two"].islnk()
    assert members["bin/busybox"].uid == 0
    streamed = tmp_path / "stdout.tar"
    with open(streamed, "wb") as f:
        proc = subprocess.run([*_cli(rb), "build", "-o", "-", str(context)], stdout=f,
                              stderr=subprocess.PIPE, text=False, timeout=300, env=_env(), check=False)
    assert proc.returncode == 0, proc.stderr
    assert b"STEP 1/" in proc.stderr             # progress moved off stdout
    assert streamed.read_bytes() == out.read_bytes()


def test_oci_and_docker_outputs_load_in_their_consumers(rb, busybox, context, tmp_path, tool, dockerd) -> None:
    oci = tmp_path / "image.oci.tar"
    layout = tmp_path / "layout"
    archive = tmp_path / "image.docker.tar"
    _build(rb, context, "-t", "out:multi", "-o", f"type=oci,dest={oci}", "-o", f"type=oci,dest={layout},tar=false",
           "-o", f"type=docker,dest={archive}")
    raw = json.loads(tool("skopeo", "inspect", "--raw", f"oci-archive:{oci}:out:multi").stdout)
    assert raw["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert json.loads(tool("skopeo", "inspect", f"oci:{layout}:out:multi").stdout)["Layers"]
    loaded = dockerd.docker("load", "-i", archive).stdout
    assert "out:multi" in loaded
    ran = dockerd.docker("run", "--rm", "--network", "none", "localhost/out:multi").stdout \
        if "localhost/out:multi" in loaded else dockerd.docker("run", "--rm", "--network", "none", "out:multi").stdout
    assert ran == "hello outputs\n"


def test_image_output_with_push(rb, busybox, context, registry, tool) -> None:
    ref = f"{registry}/outputs/pushed:1"
    _build(rb, context, "-o", f"type=image,name={ref},push=true", "--tls-verify=false")
    assert rb("inspect", ref).returncode == 0
    pushed = json.loads(tool("skopeo", "inspect", "--tls-verify=false", f"docker://{ref}").stdout)
    assert len(pushed["Layers"]) == 4            # busybox + RUN + COPY + RUN


def test_squash_merges_the_new_layers_and_squash_all_everything(rb, busybox, context, tmp_path, inspect) -> None:
    _build(rb, context, "-t", "sq:plain")
    _build(rb, context, "-t", "sq:new", "--squash")
    _build(rb, context, "-t", "sq:all", "--squash-all")
    plain, new, all_ = (inspect.config(f"sq:{t}") for t in ("plain", "new", "all"))
    assert len(plain["rootfs"]["diff_ids"]) == 4
    assert len(new["rootfs"]["diff_ids"]) == 2
    assert new["rootfs"]["diff_ids"][0] == plain["rootfs"]["diff_ids"][0]
    assert len(all_["rootfs"]["diff_ids"]) == 1
    for config in (new, all_):
        bearing = [h for h in config["history"] if not h.get("empty_layer")]
        assert len(bearing) == len(config["rootfs"]["diff_ids"])
    trees = [_tree(inspect.unpack(f"sq:{t}", tmp_path / f"b-{t}")) for t in ("plain", "new", "all")]
    assert trees[0] == trees[1] == trees[2]
    members = inspect.members("sq:new")
    assert ".wh.vi" in {Path(name).name for name in members}     # busybox's /bin/vi removed
    assert "app/data/one" not in members


def test_docker_format_is_schema2_and_podman_sees_the_healthcheck(rb, busybox, context, registry, tool,
                                                                   podman) -> None:
    # (skopeo's oci: transport lists only OCI manifests of a layout, so check it in a registry)
    ref = f"{registry}/outputs/format:docker"
    _build(rb, context, "-t", ref, "--format", "docker")
    assert rb("push", "--tls-verify=false", ref).returncode == 0
    manifest = json.loads(tool("skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}").stdout)
    assert manifest["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert manifest["config"]["mediaType"] == "application/vnd.docker.container.image.v1+json"
    assert {layer["mediaType"] for layer in manifest["layers"]} == {"application/vnd.docker.image.rootfs.diff.tar.gzip"}
    pulled = podman("pull", "--tls-verify=false", ref)
    assert pulled.returncode == 0, pulled.stderr
    health = json.loads(podman("inspect", "--format", "{{json .HealthCheck}}", ref).stdout)
    assert health["Test"] == ["CMD", "true"]


@pytest.mark.parametrize(("flag", "message"), [
    ("type=nope,dest=x", "type must be one of"),
    ("type=local", "needs dest="),
    ("type=tar,dest=x,color=red", "takes no 'color'"),
    ("type=image,push=maybe", "is not true or false"),
])
def test_bad_outputs_are_one_line_usage_errors(rb, context, flag, message) -> None:
    proc = rb("build", "-o", flag, context)
    assert proc.returncode == 125
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def _cli(rb) -> list[str]:
    import sys

    return [sys.executable, "-m", "rootless_build", "--root", str(rb.root)]


def _env() -> dict[str, str]:
    import os

    repo = str(Path(__file__).resolve().parents[3])
    return {**os.environ, "PYTHONPATH": repo, "COLUMNS": "200", "NO_COLOR": "1"}


def test_result_edits_annotations_unset_and_labels(rb, busybox, tmp_path, inspect) -> None:
    base_ctx = tmp_path / "base"
    base_ctx.mkdir()
    (base_ctx / "Dockerfile").write_text("FROM localhost:5000/busybox:latest\nLABEL from.base=yes keep=base\n"
                                         "ENV A=1 B=2\n")
    _build(rb, base_ctx, "-t", "labelled-base")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM labelled-base\nLABEL own=1 keep=stage\n")
    metadata = tmp_path / "meta.json"
    _build(rb, ctx, "-t", "edited:1", "--inherit-labels=false", "--unsetenv", "B", "--unsetlabel", "own",
           "--annotation", "org.example.a=1", "--annotation", "manifest:org.example.b=2",
           "--metadata-file", metadata)
    config = inspect.config("edited:1")["config"]
    assert config["Labels"] == {"keep": "stage"}         # base's labels gone, its own kept, own unset
    assert "B=2" not in config["Env"] and "A=1" in config["Env"]
    manifest = inspect.manifest("edited:1")
    assert manifest["annotations"] == {"org.example.a": "1", "org.example.b": "2"}
    meta = json.loads(metadata.read_text())
    assert meta["containerimage.digest"] == inspect.skopeo("edited:1")["Digest"]
    assert meta["containerimage.config.digest"].startswith("sha256:")
    assert meta["image.name"] == "edited:1"
    # The edits belong to the result only: a plain build after them reuses every step and
    # gets the labels back.
    again = _build(rb, ctx, "-t", "plain:1")
    assert inspect.config("plain:1")["config"]["Labels"] == {"from.base": "yes", "keep": "stage", "own": "1"}
    assert "Using cache" in again.stdout
