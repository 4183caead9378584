"""The test harness itself: is this machine set up the way the other tests assume?

`make test` runs these as `rbuild` (unprivileged, subordinate ids 200000:65536) and the
`nosubid` ones as `rbnosub` (no range). A failure here explains many failures elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest


def http_status(url: str, auth: tuple[str, str] | None = None) -> int:
    request = urllib.request.Request(url)
    if auth is not None:
        import base64

        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


def test_runs_unprivileged() -> None:
    assert os.getuid() != 0, "tests must run as the unprivileged user: use `make test`"
    assert os.geteuid() != 0


@pytest.mark.rootless
def test_user_has_subordinate_ranges(subuid_ranges, subgid_ranges) -> None:
    assert subuid_ranges, "no /etc/subuid range for this user (scripts/setup-host.sh)"
    assert subgid_ranges, "no /etc/subgid range for this user"
    assert max(count for _, count in subuid_ranges) >= 65536
    assert max(count for _, count in subgid_ranges) >= 65536


@pytest.mark.rootless
def test_unshare_map_root_user(tool) -> None:
    proc = tool("unshare", "--user", "--map-root-user", "sh", "-c", "id -u; cat /proc/self/uid_map")
    lines = proc.stdout.split()
    assert lines[0] == "0"
    assert lines[1:] == ["0", str(os.getuid()), "1"]


@pytest.mark.rootless
@pytest.mark.parametrize("helper", ["newuidmap", "newgidmap"])
def test_idmap_helpers_are_setuid_root(helper: str) -> None:
    path = shutil.which(helper)
    assert path, f"{helper} not installed (package uidmap)"
    st = os.stat(path)
    assert st.st_uid == 0 and st.st_mode & stat.S_ISUID, f"{path} is not setuid root"


@pytest.mark.rootless
def test_subordinate_range_maps_and_chowns(tool, tmp_path: Path, subuid_ranges, subgid_ranges) -> None:
    """newuidmap/newgidmap really install the range: a chown to container uid 1000 inside
    the namespace lands on host uid start+999."""
    (ustart, ucount), (gstart, gcount) = subuid_ranges[0], subgid_ranges[0]
    target = tmp_path / "owned"
    target.write_text("x")
    tool(
        "unshare", "--map-root-user",
        f"--map-users={ustart},1,{ucount}", f"--map-groups={gstart},1,{gcount}",
        "chown", "1000:1000", str(target),
    )
    st = target.stat()
    assert (st.st_uid, st.st_gid) == (ustart + 999, gstart + 999)
    # Removing it is the user's right (the directory is theirs), whatever its owner.
    target.unlink()


@pytest.mark.rootless
def test_dev_fuse_is_usable() -> None:
    fd = os.open("/dev/fuse", os.O_RDWR)
    os.close(fd)


@pytest.mark.parametrize(
    "tool_name",
    ["skopeo", "umoci", "podman", "buildah", "runc", "fuse-overlayfs", "slirp4netns",
     "docker-registry", "busybox", "htpasswd", "zstd", "pigz", "hyperfine", "tmux", "jq"],
)
def test_reference_tool_installed(tool_name: str) -> None:
    assert shutil.which(tool_name), f"{tool_name} not on PATH (scripts/setup-host.sh)"


@pytest.mark.rootless
def test_runtime_dir_is_private() -> None:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    assert runtime, "XDG_RUNTIME_DIR unset: run through scripts/as-user"
    st = os.stat(runtime)
    assert st.st_uid == os.getuid()
    assert stat.S_IMODE(st.st_mode) == 0o700


@pytest.mark.registry
def test_registry_fixture_answers(registry: str) -> None:
    assert registry.startswith("127.0.0.1:")
    assert http_status(f"http://{registry}/v2/") == 200


@pytest.mark.registry
def test_auth_registry_requires_credentials(auth_registry) -> None:
    assert http_status(f"{auth_registry.url}/v2/") == 401
    assert http_status(f"{auth_registry.url}/v2/", ("nobody", "wrong")) == 401
    assert http_status(f"{auth_registry.url}/v2/", (auth_registry.username, auth_registry.password)) == 200


@pytest.mark.registry
@pytest.mark.parametrize("name, cmd", [("busybox", ["sh"]), ("debian", ["bash"])])
def test_seeded_registry_has_base_images(seeded_registry: str, tool, name: str, cmd: list[str]) -> None:
    proc = tool("skopeo", "inspect", "--config", "--tls-verify=false",
                f"docker://{seeded_registry}/{name}:latest")
    config = json.loads(proc.stdout)
    assert config["os"] == "linux"
    assert config["config"]["Cmd"] == cmd
    assert len(config["rootfs"]["diff_ids"]) == 1


@pytest.mark.rootless
def test_podman_works_rootless_with_runc(tool) -> None:
    info = json.loads(tool("podman", "info", "--format", "json", timeout=120).stdout)
    assert info["host"]["security"]["rootless"] is True
    assert info["host"]["ociRuntime"]["name"] == "runc"
    assert info["host"]["cgroupManager"] == "cgroupfs"
    assert info["store"]["graphDriverName"] == "overlay"
    uidmap = info["host"]["idMappings"]["uidmap"]
    assert any(m["host_id"] == 200000 and m["size"] >= 65536 for m in uidmap), uidmap


def test_busybox_tar_is_a_rootfs(busybox_tar: Path) -> None:
    with tarfile.open(busybox_tar) as tar:
        members = {m.name: m for m in tar}
    assert members["bin/busybox"].isfile() and members["bin/busybox"].mode & 0o111
    assert members["bin/sh"].issym() and members["bin/sh"].linkname == "/bin/busybox"
    assert members["tmp"].mode & 0o7777 == 0o1777
    assert "etc/passwd" in members and "etc/group" in members
    assert all(m.uid == 0 and m.gid == 0 for m in members.values())


def test_debian_tar_is_a_rootfs(debian_tar: Path) -> None:
    with tarfile.open(debian_tar) as tar:
        names = {m.name: m for m in tar}
    assert "etc/debian_version" in names
    assert "usr/bin/bash" in names and "usr/bin/apt-get" in names
    assert names["bin"].issym()  # merged /usr since bookworm
    assert not [n for n in names if n.startswith("dev/")], "device nodes must not be shipped"
    # Owners are numeric and not all root (e.g. the shadow group on /etc/shadow).
    assert names["etc/shadow"].gid != 0


@pytest.mark.nosubid
def test_nosubid_user_has_no_range(subuid_ranges, subgid_ranges) -> None:
    assert os.getuid() != 0
    assert subuid_ranges == [] and subgid_ranges == []


@pytest.mark.nosubid
def test_nosubid_user_can_still_map_itself(tool) -> None:
    """The fallback (map only the user as root) needs no helper and no range."""
    proc = tool("unshare", "--user", "--map-root-user", "id", "-u")
    assert proc.stdout.strip() == "0"


@pytest.mark.nosubid
def test_nosubid_user_newuidmap_refuses_a_range(tool) -> None:
    proc = tool("unshare", "--map-root-user", "--map-users=200000,1,65536", "true", check=False)
    assert proc.returncode != 0


@pytest.mark.rootless
@pytest.mark.registry
def test_podman_runs_seeded_busybox(seeded_registry: str, tool) -> None:
    """The reference runtime works end to end (pull over plain HTTP, user namespace with
    the subordinate range, runc): what benchmarks and comparisons rely on."""
    proc = tool("podman", "run", "--rm", "--network=none", f"{seeded_registry}/busybox:latest",
                "sh", "-c", "id -u; cat /proc/self/uid_map", timeout=180)
    lines = proc.stdout.split()
    assert lines[0] == "0"
    assert lines[1:4] == ["0", str(os.getuid()), "1"]
    assert lines[4:7] == ["1", "200000", "65536"]
