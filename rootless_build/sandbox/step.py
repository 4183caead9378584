"""run_step: one RUN in its own namespaces on an overlay of the image's layers.

Runs in the builder, which is already root of the user namespace (reexec_in_userns). The
step's scratch dir gets the merged mount point, the driver's work dir, the init layer and
the generated /etc files; it is emptied again whatever happens (Ctrl-C included).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rootless_build.errors import SandboxError
from rootless_build.sandbox import drivers, idmap, vfs
from rootless_build.sandbox.mountpoints import FIXED, InPlace, build_init_layer, create_in_place
from rootless_build.sandbox.rootfs import BindSource, RootfsPlan
from rootless_build.sandbox.spec import Mount, StepInterrupted, StepResult, StepSpec, mount_target
from rootless_build.sandbox.stepper import CowBind, SecretCopy, StepperPlan, stepper_main
from rootless_build.sandbox.userns import in_userns

STOP_GRACE = 5.0
TAIL_BYTES = 64 * 1024
SCRATCH = ("merged", "ovl", "ovl.fuse.log", "init", "etc", "secrets", "binds")


def _hosts(hostname: str) -> str:
    return (f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
            f"127.0.1.1\t{hostname}\n")


def _write_etc(spec: StepSpec, etc: Path) -> dict[str, str]:
    etc.mkdir()
    resolv = ""
    if spec.network != "none":
        try:
            resolv = spec.resolv_conf.read_text()
        except OSError:
            resolv = ""
    files = {"/etc/hosts": _hosts(spec.hostname), "/etc/hostname": spec.hostname + "\n",
             "/etc/resolv.conf": resolv}
    result = {}
    for target, content in files.items():
        host = etc / os.path.basename(target)
        host.write_text(content)
        host.chmod(0o644)
        result[target] = os.fspath(host)
    return result


def _mount_plan(spec: StepSpec, scratch: Path, plan: StepperPlan) -> list[tuple[str, str]]:
    """Turn spec.mounts into binds/tmpfs of the rootfs plan; return their mount points."""
    wanted = []
    for index, m in enumerate(sorted(spec.mounts, key=lambda m: mount_target(spec.cwd, m.target).count("/"))):
        target = mount_target(spec.cwd, m.target)
        if m.type == "tmpfs":
            plan.rootfs.tmpfs.append((target, m.size, m.mode))
            wanted.append((target, "dir"))
            continue
        source = os.fspath(m.source)
        if not os.path.exists(source):
            raise SandboxError(f"--mount source {source} does not exist")
        kind = "dir" if os.path.isdir(source) else "file"
        if m.type == "secret":
            plan.secrets_dir = os.fspath(scratch / "secrets")
            dest = os.path.join(plan.secrets_dir, str(index))
            plan.secrets.append(SecretCopy(source, dest, 0o400 if m.mode is None else m.mode, m.uid, m.gid))
            plan.rootfs.binds.append(BindSource(target, dest, readonly=True))
            kind = "file"
        elif m.type == "bind" and not m.readonly:
            cow = scratch / "binds" / str(index)
            cow.mkdir(parents=True)
            plan.cow_binds.append(CowBind(source, os.fspath(cow)))
            plan.rootfs.binds.append(BindSource(target, os.fspath(cow / "merged"), readonly=False))
        else:   # a read-only bind, or a cache dir (read-write, never committed)
            plan.rootfs.binds.append(BindSource(target, source, readonly=m.type == "bind"))
        wanted.append((target, kind))
    if plan.secrets:
        (scratch / "secrets").mkdir()
    return wanted


def _prepare(spec: StepSpec, scratch: Path, report_w: int, out_w: int | None) -> tuple[StepperPlan, InPlace | None]:
    merged = scratch / "merged"
    merged.mkdir()
    (scratch / "ovl").mkdir()
    rootfs = RootfsPlan(merged=os.fspath(merged), etc_files=_write_etc(spec, scratch / "etc"),
                        devpts_gid5=idmap.is_mapped(5, "gid"), own_network=spec.network == "none")
    plan = StepperPlan(
        parent_pid=os.getpid(), driver=spec.driver, lowerdirs=list(spec.lowerdirs),
        upperdir=spec.upperdir, driver_workdir=scratch / "ovl", rootfs=rootfs, argv=list(spec.argv),
        env=list(spec.env), cwd=spec.cwd, user=spec.user, hostname=spec.hostname,
        network=spec.network, interactive=spec.interactive, report_w=report_w, out_w=out_w,
        volatile=spec.volatile)
    wanted = list(FIXED) + _mount_plan(spec, scratch, plan)
    if spec.driver == vfs.NAME:
        vfs.populate(spec.lowerdirs, spec.upperdir)
        return plan, create_in_place(spec.upperdir, wanted)
    init = scratch / "init"
    init.mkdir()
    build_init_layer(spec.lowerdirs, init, wanted)
    plan.lowerdirs = [init, *spec.lowerdirs]
    return plan, None


def _default_output(chunk: bytes) -> None:
    stream = getattr(sys.stdout, "buffer", None)
    if stream is not None:
        stream.write(chunk)
        stream.flush()
    else:
        sys.stdout.write(chunk.decode(errors="replace"))
        sys.stdout.flush()


def _last_lines(tail: bytes, count: int) -> list[str]:
    lines = tail.decode(errors="replace").replace("\r\n", "\n").split("\n")
    lines = [line.rsplit("\r", 1)[-1] for line in lines]
    while lines and not lines[-1].strip():
        lines.pop()
    return lines[-count:]


@contextmanager
def _interruptible() -> Iterator[None]:
    """SIGINT and SIGTERM become StepInterrupted while the step runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    interrupted = []

    def handler(signum, _frame):
        if not interrupted:         # once: a second Ctrl-C must not break the clean-up
            interrupted.append(signum)
            raise StepInterrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _stop(pid: int) -> None:
    """Ask the stepper to end the step (it kills pid 1 and unmounts), then insist."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + STOP_GRACE
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _wait_gone(pid: int, timeout: float = STOP_GRACE) -> None:
    """Wait for a process that is not our child (fuse-overlayfs, reparented)."""
    deadline = time.monotonic() + timeout
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.01)


def _clean_scratch(scratch: Path) -> None:
    for name in SCRATCH:
        path = scratch / name
        if path.is_dir() and not path.is_symlink():
            # overlay leaves work/ at mode 000: as root of the namespace we may still enter it.
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            path.unlink()


def run_step(spec: StepSpec) -> StepResult:
    """Run spec.argv in a fresh root made of spec.lowerdirs + spec.upperdir; its changes stay
    in spec.upperdir. Returns the exit status and the output's last lines; raises
    SandboxError when the sandbox itself fails and StepInterrupted on SIGINT/SIGTERM."""
    spec.check()
    drivers.check_name(spec.driver)
    if spec.isolation == "chroot":
        from rootless_build.sandbox.chrootstep import run_chroot_step

        return run_chroot_step(spec, spec.chroot_mounts)
    if not in_userns() and os.getuid() != 0:
        raise SandboxError("run_step must run inside the user namespace (see reexec_in_userns)")
    scratch = spec.workdir
    scratch.mkdir(parents=True, exist_ok=True)
    output: Callable[[bytes], None] = spec.output or _default_output
    report_r, report_w = os.pipe()
    out_r, out_w = (None, None) if spec.interactive else os.pipe()
    in_place: InPlace | None = None
    stepper = None
    messages = b""
    tail = b""
    with _interruptible():
        try:
            plan, in_place = _prepare(spec, scratch, report_w, out_w)
            stepper = os.fork()
            if stepper == 0:
                stepper_main(plan)
            os.close(report_w)
            report_w = None
            if out_w is not None:
                os.close(out_w)
                out_w = None
                while chunk := os.read(out_r, 65536):
                    output(chunk)
                    tail = (tail + chunk)[-TAIL_BYTES:]
            pending = b""
            while chunk := os.read(report_r, 4096):
                messages += chunk
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    if line.startswith(b"I:") and spec.on_start is not None:
                        spec.on_start(int(line[2:]))
            os.waitpid(stepper, 0)
            stepper = None
        finally:
            if stepper is not None:
                _stop(stepper)
                messages += _drain(report_r)
            for fd in (report_r, report_w, out_r, out_w):
                if fd is not None:
                    os.close(fd)
            for line in messages.decode(errors="replace").splitlines():
                if line.startswith("P:"):
                    _wait_gone(int(line[2:]))
            if in_place is not None:
                in_place.remove()
            _clean_scratch(scratch)
    return _result(messages.decode(errors="replace"), tail, spec.tail_lines)


def _drain(fd: int) -> bytes:
    os.set_blocking(fd, False)
    data = b""
    try:
        while chunk := os.read(fd, 4096):
            data += chunk
    except BlockingIOError:
        pass
    return data


def _result(messages: str, tail: bytes, count: int) -> StepResult:
    status = None
    for line in messages.splitlines():
        kind, _, text = line.partition(":")
        if kind == "E":
            raise SandboxError(text)
        if kind == "U":
            uid, gid = (int(x) for x in text.split(":"))
            raise idmap.insufficient_ids(uid, gid, "the step's user")
        if kind == "X":
            status = int(text)
    if status is None:
        raise SandboxError("the step's sandbox process ended without a status")
    return StepResult(status, _last_lines(tail, count))


__all__ = ["run_step", "StepSpec", "StepResult", "Mount", "StepInterrupted"]
