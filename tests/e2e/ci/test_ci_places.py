"""The tool's own image where CI runs: rootless podman and docker with their usual flags,
nested in a `rootless-build run` container, and two runners sharing a registry cache.

In each place the image builds testdata/ci (a chown to 1234, the deletion of a lower
layer's file, FROM the test registry's busybox), pushes it to a private registry on
loopback, and runs it with `rootless-build run`; skopeo and umoci check what was pushed.
Where a place cannot build, the one-line error must name its limit and the flag that
lifts it. Every place prints `PLACE <name>: ...` (isolation, driver, outcome): run with -s
for the table.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.rootless, pytest.mark.registry]

CI_CONTEXT = Path(__file__).resolve().parents[3] / "testdata" / "ci"
TIMEOUT = 600

# In the container: what `info` chose, then build, push and run (each failure marked).
SCRIPT = r"""
echo "==INFO=="; rootless-build info --format json; echo "==END=="
rootless-build build --tls-verify=false --build-arg REGISTRY="$SEED" -t "$TARGET" /ctx \
  || { echo "==BUILD FAILED=="; exit 3; }
rootless-build push --tls-verify=false "$TARGET" || { echo "==PUSH FAILED=="; exit 4; }
rootless-build run --rm "$TARGET" sh -c 'stat -c "owner %u:%g" /data/f; test -e /bin/vi || echo vi-gone' \
  || { echo "==RUN FAILED=="; exit 5; }
"""


def _target(registry: str, place: str) -> str:
    return f"{registry}/ci/{place}-{uuid.uuid4().hex[:6]}:1"


def _info(output: str) -> dict:
    try:
        return json.loads(output.split("==INFO==", 1)[1].split("==END==", 1)[0])
    except (IndexError, ValueError):
        return {}


def _report(place: str, proc: subprocess.CompletedProcess[str]) -> dict:
    info = _info(proc.stdout)
    chosen = info.get("isolation", {})
    outcome = "built, pushed, ran" if proc.returncode == 0 else f"exit {proc.returncode}"
    print(f"\nPLACE {place}: isolation={chosen.get('isolation')} ids={chosen.get('id_mapping')} "
          f"driver={chosen.get('storage_driver')} -> {outcome}")
    return info


def _check_pushed(target: str, tool, tmp_path: Path) -> None:
    """skopeo sees three layers; umoci unpacks them; the layers hold the owner and the whiteout."""
    inspected = json.loads(tool("skopeo", "inspect", "--tls-verify=false", f"docker://{target}").stdout)
    assert len(inspected["Layers"]) == 3
    layout = tmp_path / "oci"
    tool("skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{target}", f"oci:{layout}:t")
    bundle = tmp_path / "bundle"
    tool("umoci", "unpack", "--rootless", "--image", f"{layout}:t", bundle)
    rootfs = bundle / "rootfs"
    assert (rootfs / "data" / "f").read_text() == "hi\n"
    assert (rootfs / "data" / "g").read_text() == "built\n"
    assert not (rootfs / "bin" / "vi").exists() and (rootfs / "bin" / "sh").exists()
    index = json.loads((layout / "index.json").read_text())
    manifest = _blob(layout, index["manifests"][0]["digest"])
    owners, whiteouts = {}, []
    for layer in json.loads(manifest)["layers"]:
        data = _blob(layout, layer["digest"])
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        with tarfile.open(fileobj=__import__("io").BytesIO(data)) as tar:
            for member in tar:
                owners[member.name.lstrip("./")] = (member.uid, member.gid)
                if member.name.rsplit("/", 1)[-1].startswith(".wh."):
                    whiteouts.append(member.name.lstrip("./"))
    assert owners["data/f"] == (1234, 1234)
    assert "bin/.wh.vi" in whiteouts


def _blob(layout: Path, digest: str) -> bytes:
    algo, hexdigest = digest.split(":")
    return (layout / "blobs" / algo / hexdigest).read_bytes()


def _assert_works(place: str, proc, target: str, tool, tmp_path: Path) -> dict:
    info = _report(place, proc)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "owner 1234:1234" in proc.stdout and "vi-gone" in proc.stdout
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    _check_pushed(target, tool, tmp_path)
    return info


def _error_line(proc) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.startswith(("Error:", "hint:"))]
    return " ".join(lines)


# --- rootless podman, as this unprivileged user ------------------------------------------

def _podman(image: str, flags: list[str], env: dict[str, str], script: str = SCRIPT,
            ctx: Path = CI_CONTEXT) -> subprocess.CompletedProcess[str]:
    argv = ["podman", "run", "--rm", "--network", "host", "-v", f"{ctx}:/ctx:ro", *flags]
    for key, value in env.items():
        argv += ["-e", f"{key}={value}"]
    return subprocess.run([*argv, "--entrypoint", "sh", image, "-c", script], capture_output=True,
                          text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)


PODMAN_WORKING = {
    "default": [],
    "device-fuse": ["--device", "/dev/fuse"],
    "seccomp-unconfined-sys-admin": ["--security-opt", "seccomp=unconfined", "--cap-add", "SYS_ADMIN"],
    "privileged": ["--privileged"],
}


@pytest.mark.parametrize("place", list(PODMAN_WORKING))
def test_rootless_podman(place, podman_image, registry, seeded_registry, tool, tmp_path):
    target = _target(registry, f"podman-{place}")
    proc = _podman(podman_image, PODMAN_WORKING[place], {"SEED": seeded_registry, "TARGET": target})
    info = _assert_works(f"podman {place}", proc, target, tool, tmp_path)
    if place == "default":
        # Root of the container, no CAP_SYS_ADMIN, seccomp: chroot isolation, said once;
        # info names each limit with the flag that lifts it (no chmod where there is no device).
        assert info["isolation"]["isolation"] == "chroot"
        assert proc.stderr.count("chroot isolation") == 1
        limits = "\n".join(info["limits"])
        assert "Seccomp: 2" in limits and "--security-opt seccomp=unconfined" in limits
        assert "CAP_SYS_ADMIN" in limits and "--cap-add SYS_ADMIN" in limits
        assert "no /dev/fuse" in limits and "--device /dev/fuse" in limits and "chmod" not in limits


def test_rootless_podman_keep_id_names_the_limit_and_the_flags(podman_image, registry, seeded_registry):
    """--userns=keep-id runs the job as the unprivileged `build` user without capabilities:
    newuidmap is refused, only one id maps, the chown fails; the error says why and what lifts it."""
    target = _target(registry, "podman-keep-id")
    proc = _podman(podman_image, ["--userns=keep-id"], {"SEED": seeded_registry, "TARGET": target})
    _report("podman --userns=keep-id", proc)
    assert proc.returncode == 3, proc.stdout[-3000:] + proc.stderr[-3000:]
    error = _error_line(proc)
    assert "Dockerfile:5" in error and "only one id is mapped" in error
    assert "--user 0" in error and "--cap-add SYS_ADMIN" in error
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


# --- docker (the session's private dockerd, started as root) -------------------------------

def _docker(dockerd, image: str, flags: list[str], env: dict[str, str],
            script: str = SCRIPT) -> subprocess.CompletedProcess[str]:
    argv = ["run", "--rm", "--network", "host", "-v", f"{CI_CONTEXT}:/ctx:ro", *flags]
    for key, value in env.items():
        argv += ["-e", f"{key}={value}"]
    return dockerd.docker(*argv, "--entrypoint", "sh", image, "-c", script, check=False, timeout=TIMEOUT)


DOCKER_WORKING = {"default": [], "seccomp-unconfined": ["--security-opt", "seccomp=unconfined"]}


@pytest.mark.parametrize("place", list(DOCKER_WORKING))
def test_docker(place, dockerd, docker_image, registry, seeded_registry, tool, tmp_path):
    target = _target(registry, f"docker-{place}")
    proc = _docker(dockerd, docker_image, DOCKER_WORKING[place], {"SEED": seeded_registry, "TARGET": target})
    _assert_works(f"docker {place}", proc, target, tool, tmp_path)


def test_docker_as_user_1000_names_the_limit_and_the_flags(dockerd, docker_image, registry, seeded_registry):
    """A non-root user under docker's seccomp profile may create no namespace at all."""
    target = _target(registry, "docker-user")
    proc = _docker(dockerd, docker_image, ["--user", "1000:1000"], {"SEED": seeded_registry, "TARGET": target})
    info = _report("docker --user 1000:1000", proc)
    assert proc.returncode == 3, proc.stdout[-3000:] + proc.stderr[-3000:]
    error = _error_line(proc)
    assert error.count("Error:") == 1 and "Dockerfile:5" in error
    assert "Seccomp: 2" in error and "--security-opt seccomp=unconfined" in error and "--user 0" in error
    assert "error" in info["isolation"] and "Traceback" not in proc.stderr


# --- the store on the container's own overlay root (no volume) ------------------------------

# The image's store is a volume; ROOTLESS_BUILD_ROOT puts it on the container's root filesystem,
# which holds no overlay whiteout: vfs must apply the layer's deletion by deleting.
ROOT_STORE = "/var/tmp/rb-store"
SCRIPT_ROOT_STORE = f"""mkdir -p {ROOT_STORE}; echo "==STOREFS $(stat -f -c %T {ROOT_STORE})=="
""" + SCRIPT


def _store_on_the_root(place: str, proc, target: str, tool, tmp_path: Path) -> None:
    info = _assert_works(place, proc, target, tool, tmp_path)
    assert info["isolation"]["storage_driver"] == "vfs"
    fs_type = proc.stdout.split("==STOREFS ", 1)[1].split("==", 1)[0]
    assert fs_type in ("overlayfs", "fuseblk", "fuse"), fs_type


def test_rootless_podman_store_on_the_container_root(podman_image, registry, seeded_registry, tool, tmp_path):
    target = _target(registry, "podman-root-store")
    proc = _podman(podman_image, [], {"SEED": seeded_registry, "TARGET": target, "ROOTLESS_BUILD_ROOT": ROOT_STORE},
                   script=SCRIPT_ROOT_STORE)
    _store_on_the_root("podman default, store on the container's root", proc, target, tool, tmp_path)


def test_docker_store_on_the_container_root(dockerd, docker_image, registry, seeded_registry, tool, tmp_path):
    target = _target(registry, "docker-root-store")
    proc = _docker(dockerd, docker_image, [], {"SEED": seeded_registry, "TARGET": target,
                                               "ROOTLESS_BUILD_ROOT": ROOT_STORE}, script=SCRIPT_ROOT_STORE)
    _store_on_the_root("docker default, store on the container's root", proc, target, tool, tmp_path)


# --- nested: the tool's image run by `rootless-build run` on this machine ----------------------

def test_nested_in_a_rootless_build_run_container(tool_image_store, registry, seeded_registry, tool, tmp_path):
    """The store is bound from this machine, as docs/ci.md advises for every place (a volume
    keeps the cache between jobs)."""
    target = _target(registry, "nested")
    store = tmp_path / "nested-store"
    store.mkdir()
    rb = [sys.executable, "-m", "rootless_build", "--root", str(tool_image_store)]
    argv = [*rb, "run", "--rm", "--network", "host", "-v", f"{CI_CONTEXT}:/ctx", "-v",
            f"{store}:/root/.local/share/rootless-build",
            "-e", f"SEED={seeded_registry}", "-e", f"TARGET={target}",
            "--entrypoint", "sh", "rootless-build:test", "-c", SCRIPT]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        _assert_works("nested in rootless-build run", proc, target, tool, tmp_path)
    finally:
        subprocess.run([*rb, "unshare", "rm", "-rf", "--", str(store)], capture_output=True, timeout=120)


# --- two runners, separate stores, one cache in the registry ----------------------------------

def test_two_runners_share_the_cache_through_the_registry(podman_image, registry, seeded_registry):
    cache = f"{registry}/ci/cache-{uuid.uuid4().hex[:6]}"
    build = ('rootless-build build --tls-verify=false --build-arg REGISTRY="$SEED" '
             '-t "$TARGET" {flag} "$CACHE" /ctx')
    env = {"SEED": seeded_registry, "CACHE": cache, "TARGET": "shared:1"}
    first = _podman(podman_image, [], env, script=build.format(flag="--cache-to"))
    assert first.returncode == 0, first.stderr[-3000:]
    second = _podman(podman_image, [], env, script=build.format(flag="--cache-from"))
    assert second.returncode == 0, second.stderr[-3000:]
    steps = second.stdout.split("STEP ")[2:]      # the RUN steps (after FROM)
    assert len(steps) == 2 and all("Using cache" in step for step in steps), second.stdout
    assert "owner" not in second.stdout and "WARNING" not in second.stderr    # nothing ran
    print("\nPLACE two podman runners, --cache-to/--cache-from: second build all 'Using cache'")
