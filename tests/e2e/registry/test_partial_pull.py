"""Our zstd:chunked layers are pulled partially by podman 4.3 (containers/storage 1.43 with
`enable_partial_images`): it reads the TOC and fetches the files' frames with ranged GETs
(the registry answers 206, never the whole blob with 200), says "Retrieved partial blob" in
its debug log, and the files it puts together are those of our layer. A second layer that
differs by one file then costs little more than that file: the rest is found by its TOC
digest in the first."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.registry, pytest.mark.rootless]

# Run inside `podman unshare`: every file of the mounted image as {path: [kind, what, mode, uid, gid]}.
LIST_TREE = """
import hashlib, json, os, stat, sys
root = sys.argv[1]
out = {}
for top, dirs, files in os.walk(root):
    for name in dirs + files:
        path = os.path.join(top, name)
        st = os.lstat(path)
        rel = os.path.relpath(path, root)
        if stat.S_ISREG(st.st_mode):
            with open(path, "rb") as f:
                what = ["file", hashlib.sha256(f.read()).hexdigest()]
        elif stat.S_ISLNK(st.st_mode):
            what = ["link", os.readlink(path)]
        else:
            what = ["dir" if stat.S_ISDIR(st.st_mode) else "other", ""]
        out[rel] = [*what, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid]
print(json.dumps(out))
"""


def _ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _tar_tree(path: Path) -> dict[str, list]:
    out = {}
    with tarfile.open(path) as tar:
        for member in tar:
            name = os.path.normpath(member.name.lstrip("/"))
            if name == ".":
                continue
            if member.isreg():
                what = ["file", hashlib.sha256(tar.extractfile(member).read()).hexdigest()]
            elif member.issym():
                what = ["link", member.linkname]
            else:
                what = ["dir" if member.isdir() else "other", ""]
            out[name] = [*what, member.mode & 0o7777, member.uid, member.gid]
    return out


@pytest.fixture
def podman_partial():
    """podman with a storage of its own (overlay) whose storage.conf enables partial pulls,
    as containers-storage.conf(5) of c/storage 1.43 describes `pull_options`."""
    if shutil.which("podman") is None:
        pytest.skip("podman not installed")
    base = Path(tempfile.mkdtemp(prefix="rbpp-", dir="/tmp"))
    config = base / "config" / "containers"
    config.mkdir(parents=True)
    for name in ("containers.conf", "registries.conf"):   # the user's engine settings, kept
        mine = Path.home() / ".config" / "containers" / name
        if mine.is_file():
            shutil.copy(mine, config / name)
    (config / "storage.conf").write_text("\n".join([
        "[storage]", 'driver = "overlay"', f'graphroot = "{base / "root"}"', f'runroot = "{base / "run"}"',
        "[storage.options]",
        'pull_options = {enable_partial_images = "true", use_hard_links = "false", ostree_repos = ""}', ""]))
    podman = ["podman", "--root", str(base / "root"), "--runroot", str(base / "run")]
    env = {**os.environ, "XDG_CONFIG_HOME": str(base / "config")}

    def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([*podman, *args], capture_output=True, text=True, timeout=timeout, env=env,
                              stdin=subprocess.DEVNULL)

    try:
        yield run
    finally:
        run("unshare", "rm", "-rf", str(base / "root"), str(base / "run"), timeout=120)
        shutil.rmtree(base, ignore_errors=True)


def test_podman_pulls_our_zstd_chunked_layer_partially(rb, busybox_tar, logged_registry, podman_partial,
                                                       tmp_path):
    address, log = logged_registry
    one_more = tmp_path / "busybox-plus.tar"      # the same files and one more, in one layer
    _with_one_more_file(busybox_tar, one_more)
    sizes = []
    for tag, tar in (("1", busybox_tar), ("2", one_more)):
        _ok(rb("import", "-c", 'CMD ["sh"]', tar, f"e2e-partial/busybox:{tag}"))
        dest = f"{address}/partial/busybox:{tag}"
        _ok(rb("push", "--compression-format", "zstd:chunked", f"e2e-partial/busybox:{tag}", dest))
        [layer] = json.loads(_skopeo("inspect", "--raw", f"docker://{dest}"))["layers"]
        start = log.stat().st_size

        pulled = _ok(podman_partial("--log-level", "debug", "pull", "--tls-verify=false", dest))
        assert f"Retrieved partial blob {layer['digest']}" in pulled.stderr, pulled.stderr[-3000:]
        served = log.read_text(errors="replace")[start:]
        gets = re.findall(rf'"GET /v2/partial/busybox/blobs/{layer["digest"]} HTTP/1\.1" (\d+) (\d+)', served)
        assert gets and {status for status, _ in gets} == {"206"}, f"ranged GETs only (TOC, then files): {gets}"
        sizes.append((sum(int(size) for _, size in gets), layer["size"]))

        # What podman put together from the frames is our layer, file by file.
        mounted = _ok(podman_partial("unshare", "sh", "-c",
                                     'exec python3 -c "$1" "$(podman --root "$2" --runroot "$3" image mount "$4")"',
                                     "sh", LIST_TREE, *_roots(podman_partial), dest))
        tree, expected = json.loads(mounted.stdout), _tar_tree(tar)
        assert tree == expected, sorted(set(map(str, tree.items())) ^ set(map(str, expected.items())))[:10]
        inspected = json.loads(_ok(podman_partial("image", "inspect", dest)).stdout)
        config = json.loads(_skopeo("inspect", "--config", "--raw", f"docker://{dest}"))
        assert inspected[0]["RootFS"]["Layers"] == config["rootfs"]["diff_ids"]
    (first, first_size), (second, second_size) = sizes
    assert first <= first_size
    assert second < second_size / 10, f"the second pull fetched {second} of {second_size} bytes"


def _skopeo(*args: str) -> str:
    return subprocess.run(["skopeo", *args[:1], "--tls-verify=false", *args[1:]], capture_output=True, text=True,
                          check=True).stdout


def _with_one_more_file(source: Path, dest: Path) -> None:
    import io

    with tarfile.open(source) as src, tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as out:
        for member in src:
            out.addfile(member, src.extractfile(member) if member.isreg() else None)
        extra = tarfile.TarInfo("etc/partial-pull-marker")
        data = b"one file more\n"
        extra.size, extra.mode, extra.mtime = len(data), 0o644, 1700000000
        out.addfile(extra, io.BytesIO(data))


def _roots(podman_partial) -> tuple[str, str]:
    info = json.loads(_ok(podman_partial("info", "--format", "json")).stdout)
    return info["store"]["graphRoot"], info["store"]["runRoot"]
