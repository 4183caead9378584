"""What a step needs (StepSpec, Mount) and what it gives back (StepResult)."""

from __future__ import annotations

import posixpath
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rootless_build.errors import SandboxError
from rootless_build.sandbox.hardening import Hardening

if TYPE_CHECKING:
    from rootless_build.sandbox.slirp import SlirpOptions

MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "volume", "device")


@dataclass(frozen=True)
class Mount:
    """A RUN --mount. bind: a host dir/file (readonly by default; readonly=False gives a
    copy-on-write view whose writes are discarded); cache: a persistent host dir, rw, never
    committed; tmpfs: size bytes (None = half of RAM); secret: a host file shown read-only
    with mode/uid/gid, from a tmpfs, at target (e.g. /run/secrets/ID); volume: a host dir
    bound as it is (a container's -v/--mount), read-only when said, first filled from the
    image's content at target when copy_up and empty; device: a host device node bound in.
    flags: a tmpfs's nosuid/nodev/noexec (docker's --tmpfs gives all three)."""

    type: str
    target: str
    source: Path | None = None
    readonly: bool = True
    size: int | None = None
    mode: int | None = None
    uid: int = 0
    gid: int = 0
    flags: tuple[str, ...] = ("nosuid", "nodev")
    copy_up: bool = False

    def __post_init__(self) -> None:
        if self.type not in MOUNT_TYPES:
            raise SandboxError(f"unknown mount type {self.type!r}")
        if self.type != "tmpfs" and self.source is None:
            raise SandboxError(f"a {self.type} mount needs a source")

    @property
    def bound_readonly(self) -> bool:
        """Whether the bind itself is read-only (a writable `bind` is a copy-on-write view)."""
        if self.type in ("volume", "device"):
            return self.readonly
        return self.type in ("bind", "secret")


@dataclass
class StepSpec:
    """One RUN. lowerdirs are top-most first (as overlay wants); upperdir receives the
    changes (for vfs: the full copy, filled from the lowers when empty); workdir is this
    step's own empty scratch dir on the upper dir's filesystem, emptied again afterwards."""

    lowerdirs: list[Path]
    upperdir: Path
    workdir: Path
    argv: list[str]
    driver: str = "overlay"
    env: list[str] = field(default_factory=list)
    cwd: str = "/"
    # A USER value resolved in the image ("app", "1000:1000", "app:staff"), or (uid, gid, groups).
    user: str | tuple[int, int, list[int]] = ""
    hostname: str = "rootless-build"
    network: str = "host"              # "host", "none" or "slirp4netns" (a namespace of its own)
    slirp: SlirpOptions | None = None  # slirp4netns's options and the published ports
    dns: list[str] = field(default_factory=list)    # nameservers for /etc/resolv.conf (--dns)
    mounts: list[Mount] = field(default_factory=list)
    # Each chunk of the step's output (stdout and stderr, merged); None: to our stdout.
    output: Callable[[bytes], None] | None = None
    # Give the command our stdin/stdout/stderr (a tty for `run -it`) instead of capturing.
    interactive: bool = False
    tail_lines: int = 20
    # Called with the host pid of the step's pid 1 and its start time (/proc/PID/stat) as
    # soon as its command runs (containers record them for stop, kill and exec).
    on_start: Callable[[int, int], None] | None = None
    resolv_conf: Path = Path("/etc/resolv.conf")
    # The upper dir is scratch (a build step's): no sync of it when the overlay goes away.
    volatile: bool = False
    # build --add-host, --shm-size, --ulimit (checked by build/runoptions.py)
    extra_hosts: list[tuple[str, str]] = field(default_factory=list)  # (name, ip) for /etc/hosts
    shm_size: int | None = None  # bytes of /dev/shm (None: 64 MiB)
    rlimits: list[tuple[int, int, int]] = field(default_factory=list)  # (RLIMIT_*, soft, hard), -1 unlimited
    # Capabilities, no_new_privs, seccomp, masked paths: docker's defaults unless said.
    hardening: Hardening = Hardening()
    seccomp_cache: Path | None = None      # where compiled seccomp programs are kept
    # A unix socket: pid 1 opens a pty in the step's devpts, makes it its stdio and sends the
    # master over it (SCM_RIGHTS), as runc's --console-socket.
    console: int | None = None
    console_size: tuple[int, int] = (24, 80)    # rows, cols of that pty at first
    # A host init binary (catatonit) run as pid 1 with argv after `--` (`run --init`).
    init: Path | None = None
    # "oci" (namespaces + pivot_root) or "chroot" (sandbox.chrootstep; vfs only);
    # chroot_mounts: the chroot may get a mount namespace with /proc, /dev, /sys bound in.
    isolation: str = "oci"
    chroot_mounts: bool = True
    read_only: bool = False     # the root mounted read-only (run --read-only)

    def check(self) -> None:
        if not self.argv:
            raise SandboxError("a step needs a command")
        if self.network not in ("host", "none", "slirp4netns"):
            raise SandboxError(f"unknown network mode {self.network!r}: use host, none or slirp4netns")
        if not posixpath.isabs(self.cwd):
            raise SandboxError(f"working directory must be absolute: {self.cwd}")


@dataclass
class StepResult:
    exit_code: int
    last_lines: list[str]
    exec_error: str = ""        # the command could not be executed (exit_code 126 or 127)


class StepInterrupted(SandboxError):
    """SIGINT or SIGTERM arrived during a step; everything it started has been cleaned up."""

    def __init__(self, signum: int):
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")


def mount_target(cwd: str, target: str) -> str:
    """A mount's target as an absolute, normalised container path (relative: from cwd)."""
    return posixpath.normpath(posixpath.join(cwd, target))
