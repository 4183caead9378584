"""Storage drivers: how a step gets its writable root. Kernel overlay, fuse-overlayfs, vfs.

`mount_driver` mounts one; `detect_driver` picks the first that really works here (a test
mount inside the namespace, cached per store and kernel), unless one is chosen by name.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from rootless_build.errors import SandboxError, UsageError
from rootless_build.sandbox import fuse_overlay, libc, overlay, vfs
from rootless_build.sandbox.forktry import in_fork

DRIVERS = (overlay.NAME, fuse_overlay.NAME, vfs.NAME)
CACHE_NAME = "storage-driver.json"


class Mounted(Protocol):
    target: Path

    @property
    def pid(self) -> int | None: ...

    def release(self) -> None:
        """Unmount in the caller's mount namespace (and end a serving process)."""

    def stop(self) -> None:
        """End a serving process from another mount namespace (no-op for kernel mounts)."""


def check_name(name: str) -> str:
    if name not in DRIVERS:
        raise UsageError(f"unknown storage driver {name!r}: choose one of {', '.join(DRIVERS)}")
    return name


def mount_driver(name: str, lowerdirs: Sequence[Path], upperdir: Path, workdir: Path,
                 target: Path, *, volatile: bool = False) -> Mounted:
    """Mount the merged tree on target. workdir is the driver's own scratch dir (empty, on
    the upper dir's filesystem). For vfs, upperdir is the full copy (filled when empty).
    volatile: the upper dir is scratch, never synced (kernel overlay; fuse-overlayfs never syncs)."""
    if name == overlay.NAME:
        return overlay.mount_overlay(lowerdirs, upperdir, workdir, target, volatile=volatile)
    if name == fuse_overlay.NAME:
        return fuse_overlay.mount_fuse_overlay(lowerdirs, upperdir, workdir, target,
                                               log=workdir.parent / f"{workdir.name}.fuse.log")
    if name == vfs.NAME:
        return vfs.mount_vfs(lowerdirs, upperdir, target)
    raise UsageError(f"unknown storage driver {name!r}")


# --- detection ---------------------------------------------------------------------------

def _probe_tree(base: Path) -> tuple[list[Path], Path, Path, Path]:
    """A lower with a file, a whiteout and an opaque dir, as the layer extractor writes them."""
    lower = base / "lower"
    (lower / "opaque").mkdir(parents=True)
    (lower / "keep").write_text("k")
    (lower / "remove").write_text("r")
    os.mknod(lower / "gone", stat.S_IFCHR | 0o000, 0)
    os.setxattr(lower / "opaque", "user.overlay.opaque", b"y")
    parts = [base / "upper", base / "work", base / "merged"]
    for p in parts:
        p.mkdir()
    # A second, lower layer whose entries the whiteout and the opaque dir must hide.
    below = base / "below"
    (below / "opaque").mkdir(parents=True)
    (below / "opaque" / "hidden").write_text("h")
    (below / "gone").write_text("g")
    return [lower, below], *parts


def _exercise(name: str, base: Path) -> None:
    lowers, upper, work, merged = _probe_tree(base)
    # volatile: unmounting a plain overlay syncs the whole upper filesystem (slow on a busy disk)
    mounted = mount_driver(name, lowers, upper, work, merged, volatile=True)
    try:
        if (merged / "gone").exists() or (merged / "opaque" / "hidden").exists():
            raise SandboxError("lower whiteouts or opaque directories are not honoured")
        (merged / "new").write_text("n")
        (merged / "remove").unlink()
        if name != vfs.NAME and not _has_whiteout(upper, "remove"):
            raise SandboxError("a deletion left no whiteout in the upper directory")
    finally:
        mounted.release()


def _has_whiteout(upper: Path, name: str) -> bool:
    try:
        st = os.lstat(upper / name)
        return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    except FileNotFoundError:
        return (upper / f".wh.{name}").exists()


def probe(name: str, scratch_parent: Path) -> str | None:
    """None when driver `name` works here, else why not (one line). Runs in a forked child
    with its own mount namespace, so nothing stays mounted in ours."""
    check_name(name)
    try:
        scratch_parent.mkdir(parents=True, exist_ok=True)
        base = Path(tempfile.mkdtemp(prefix=f"probe-{name}-", dir=scratch_parent))
    except OSError as e:
        return f"cannot make a test directory in {scratch_parent}: {e.strerror}"
    def exercise() -> None:
        libc.unshare(libc.CLONE_NEWNS)
        libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)
        _exercise(name, base)

    try:
        return in_fork(exercise)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _cache_file(store_root: Path) -> Path:
    return store_root / "cache" / CACHE_NAME


def detect_driver(store_root: Path, prefer: str | None = None, *, refresh: bool = False) -> str:
    """The driver to use: `prefer` when given, else the first of overlay, fuse-overlayfs,
    vfs that mounts here. Must run inside the user namespace."""
    if prefer:
        return check_name(prefer)
    cache = _cache_file(store_root)
    kernel = platform.release()
    if not refresh:
        try:
            cached = json.loads(cache.read_text())
            if cached.get("kernel") == kernel and cached.get("driver") in DRIVERS:
                return cached["driver"]
        except (OSError, ValueError):
            pass
    results = probe_all(store_root, stop_at_first=True)
    driver = next((name for name, error in results.items() if error is None), None)
    if driver is None:
        raise SandboxError("no storage driver works here: " + "; ".join(f"{n}: {e}" for n, e in results.items())
                           + " (run `rootless-build info` for what blocks each and the fix)")
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f".{CACHE_NAME}.{os.getpid()}")
    tmp.write_text(json.dumps({"kernel": kernel, "driver": driver, "probes": results}, sort_keys=True))
    os.replace(tmp, cache)
    return driver


def probe_all(store_root: Path, stop_at_first: bool = False) -> dict[str, str | None]:
    """Each driver -> None (works) or the reason it does not."""
    results: dict[str, str | None] = {}
    for name in DRIVERS:
        results[name] = probe(name, store_root / "tmp")
        if stop_at_first and results[name] is None:
            break
    return results
