"""fuse-overlayfs: an overlay served by a user-space process, where kernel overlay is refused.

It reads kernel-style lower dirs (0/0 whiteouts, opaque xattrs). In its upper dir a deletion
is a 0/0 character device when mknod is allowed (else a `.wh.NAME` file) and an opaque
directory carries `user.fuseoverlayfs.opaque` (and/or a `.wh..wh..opq` file): the layer
writer reads all of these. The process runs in the foreground as our child, in its own
session (no terminal signals), and dies with its parent (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rootless_build.errors import SandboxError
from rootless_build.sandbox import libc

NAME = "fuse-overlayfs"
READY_TIMEOUT = 10.0


def find_binary() -> str | None:
    return shutil.which("fuse-overlayfs") or next(
        (p for p in ("/usr/bin/fuse-overlayfs", "/usr/local/bin/fuse-overlayfs") if os.path.exists(p)), None)


def version() -> str | None:
    binary = find_binary()
    if binary is None:
        return None
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in (out.stdout + out.stderr).splitlines():
        if line.startswith("fuse-overlayfs"):
            return line.split(":", 1)[-1].strip().removeprefix("version").strip()
    return None


@dataclass
class FuseMount:
    target: Path
    process: subprocess.Popen

    @property
    def pid(self) -> int:
        return self.process.pid

    def release(self, timeout: float = 5.0) -> None:
        """Unmount (the daemon then exits) and wait for the process."""
        if self.process.poll() is None:
            try:
                libc.umount2(self.target)
            except OSError:
                # Not mounted in our namespace (or busy): the daemon unmounts on SIGTERM.
                self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def stop(self, timeout: float = 5.0) -> None:
        """End the daemon from outside its mount namespace: it unmounts and exits."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _option_path(path: Path) -> str:
    text = os.fspath(path)
    # fuse-overlayfs splits its options on ',' and lowerdir on ':'; a backslash escapes both.
    return text.replace("\\", "\\\\").replace(",", "\\,").replace(":", "\\:")


def fuse_device_problem() -> str | None:
    """None when /dev/fuse exists and opens, else what is wrong and the fix (one line)."""
    if not os.path.exists("/dev/fuse"):
        return ("there is no /dev/fuse here; fix: give the container the device "
                "(docker/podman run --device /dev/fuse; Kubernetes: a fuse device plugin or privileged)")
    try:
        os.close(os.open("/dev/fuse", os.O_RDWR))
    except OSError as e:
        if os.getuid() != 0 and not os.access("/dev/fuse", os.R_OK | os.W_OK):
            return f"/dev/fuse cannot be opened by this user ({e.strerror}); fix (as root): chmod 0666 /dev/fuse"
        return (f"/dev/fuse cannot be opened ({e.strerror}): the device cgroup refuses it; fix: "
                "docker/podman run --device /dev/fuse")
    return None


def _die_with_parent() -> None:
    libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGTERM)


def mount_fuse_overlay(lowerdirs: Sequence[Path], upperdir: Path, workdir: Path, target: Path,
                       log: Path) -> FuseMount:
    binary = find_binary()
    if binary is None:
        raise SandboxError("fuse-overlayfs not found; fix: apt-get install fuse-overlayfs")
    problem = fuse_device_problem()
    if problem:
        raise SandboxError(problem)
    options = ",".join([
        "lowerdir=" + ":".join(_option_path(p) for p in lowerdirs),
        f"upperdir={_option_path(upperdir)}",
        f"workdir={_option_path(workdir)}",
        "allow_other",          # the step may run as another user of the namespace
        "fsync=0",              # a build step is redone after a crash anyway
    ])
    with open(log, "wb") as errors:
        process = subprocess.Popen([binary, "-f", "-o", options, os.fspath(target)],
                                   stdin=subprocess.DEVNULL, stdout=errors, stderr=errors,
                                   start_new_session=True, preexec_fn=_die_with_parent)
    parent_dev = os.stat(target.parent).st_dev
    deadline = time.monotonic() + READY_TIMEOUT
    while os.stat(target).st_dev == parent_dev:
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                process.kill()
                process.wait()
            detail = log.read_text(errors="replace").strip().splitlines()
            raise SandboxError(f"fuse-overlayfs mount on {target} failed: "
                               f"{detail[-1] if detail else f'exit status {process.returncode}'}")
        time.sleep(0.002)
    return FuseMount(target, process)
