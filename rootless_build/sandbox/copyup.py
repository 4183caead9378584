"""Docker's copy-up: a new, empty volume mounted over a directory of the image is first
filled with that directory's content, owners, modes and times kept. Runs as root of the
user namespace (files of subordinate ids keep their ids), before the step's pid 1 pivots."""

from __future__ import annotations

import os
import posixpath
import stat

from rootless_build.errors import LayerError, SandboxError
from rootless_build.layers.paths import resolve_links


def resolve_in_root(root: str, path: str) -> str | None:
    """The host path of container path `path` under `root`, symlinks resolved as the
    container sees them (an absolute link stays inside root); None when absent or a loop."""

    def link_target(rel: str) -> str | None:
        host = os.path.join(root, rel)
        try:
            return os.readlink(host) if stat.S_ISLNK(os.lstat(host).st_mode) else None
        except OSError:
            return None     # absent: kept as given, found missing below

    try:
        resolved = resolve_links(link_target, path)
    except LayerError:
        return None
    host = os.path.join(root, resolved)
    return host if os.path.lexists(host) else None


def copy_up(root: str, target: str, volume_dir: str) -> None:
    """Fill volume_dir (when still empty) from `target` of the root; nothing when the image
    has no directory there."""
    source = resolve_in_root(root, posixpath.normpath("/" + target))
    if source is None or not os.path.isdir(source) or os.path.islink(source):
        return
    if any(os.scandir(volume_dir)):
        return
    st = os.lstat(source)
    os.chown(volume_dir, st.st_uid, st.st_gid)
    os.chmod(volume_dir, stat.S_IMODE(st.st_mode))
    if not any(os.scandir(source)):
        return
    import shutil  # only a first start over a new volume gets here
    import tempfile

    # Copied beside the volume's data dir (no container sees it), then renamed in entry by
    # entry: a container sharing the volume cannot plant a symlink that cp would follow.
    staging = tempfile.mkdtemp(prefix=".copy-up-", dir=os.path.dirname(os.path.abspath(volume_dir)))
    try:
        _cp_a(source, staging, target)
        _move_entries(staging, volume_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_entries(src_dir: str, dst_dir: str) -> None:
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    src, dst = os.open(src_dir, flags), os.open(dst_dir, flags)
    try:
        for name in os.listdir(src):
            try:
                os.rename(name, name, src_dir_fd=src, dst_dir_fd=dst)
            except OSError:
                pass    # a container sharing the volume put something there meanwhile: theirs wins
    finally:
        os.close(src)
        os.close(dst)


def _cp_a(source: str, dest: str, target: str) -> None:
    """coreutils' cp -a: owners, modes, times, hard links, xattrs and special files."""
    import subprocess

    done = subprocess.run(["cp", "-a", "--", source + "/.", dest + "/"],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          check=False)
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        raise SandboxError(f"copying the image's {target} into its volume: "
                           f"{lines[-1] if lines else f'cp exit status {done.returncode}'}")
