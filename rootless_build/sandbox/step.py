"""run_step: one RUN in its own namespaces on an overlay of the image's layers.

Runs in the builder, which is already root of the user namespace (sandbox.userns). The
step's scratch dir gets the merged mount point, the driver's work dir, the init layer and
the generated /etc files; it is emptied again whatever happens (Ctrl-C included).
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path

from rootless_build.errors import SandboxError
from rootless_build.sandbox import drivers, hardening, idmap, vfs
from rootless_build.sandbox.mountpoints import FIXED, InPlace, build_init_layer, create_in_place
from rootless_build.sandbox.rootfs import BindSource, RootfsPlan, TmpfsMount
from rootless_build.sandbox.spec import Mount, StepInterrupted, StepResult, StepSpec, mount_target
from rootless_build.sandbox.stepio import TAIL_BYTES, default_output, interruptible, last_lines, write_etc
from rootless_build.sandbox.stepper import CowBind, SecretCopy, StepperPlan, stepper_main
from rootless_build.sandbox.userns import in_userns

INIT_TARGET = "/run/rootless-build-init"     # where --init's binary is bound in the container
STOP_GRACE = 5.0
SCRATCH = ("merged", "ovl", "ovl.fuse.log", "init", "etc", "secrets", "binds")


def _mount_plan(spec: StepSpec, scratch: Path, plan: StepperPlan) -> list[tuple[str, str]]:
    """Turn spec.mounts into binds/tmpfs of the rootfs plan; return their mount points."""
    wanted = []
    for index, m in enumerate(sorted(spec.mounts, key=lambda m: mount_target(spec.cwd, m.target).count("/"))):
        target = mount_target(spec.cwd, m.target)
        if m.type == "tmpfs":
            plan.rootfs.tmpfs.append(TmpfsMount(target, m.size, m.mode, m.flags))
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
        else:   # a read-only bind, a cache dir (read-write, never committed), a volume, a device
            plan.rootfs.binds.append(BindSource(target, source, readonly=m.bound_readonly))
            if m.copy_up:
                plan.copy_ups.append((source, target))
        wanted.append((target, kind))
    if plan.secrets:
        (scratch / "secrets").mkdir()
    return wanted


def _prepare(spec: StepSpec, scratch: Path, report_w: int, out_w: int | None) -> tuple[StepperPlan, InPlace | None]:
    merged = scratch / "merged"
    merged.mkdir()
    (scratch / "ovl").mkdir()
    rootfs = RootfsPlan(merged=os.fspath(merged), etc_files=write_etc(spec, scratch / "etc"),
                        devpts_gid5=idmap.is_mapped(5, "gid"), own_network=spec.network != "host",
                        shm_size=spec.shm_size, mask_paths=spec.hardening.mask_paths,
                        read_only=spec.read_only)
    argv = list(spec.argv)
    if spec.init is not None:
        rootfs.binds.append(BindSource(INIT_TARGET, os.fspath(spec.init), readonly=True))
        argv = [INIT_TARGET, "--", *argv]
    plan = StepperPlan(
        parent_pid=os.getpid(), driver=spec.driver, lowerdirs=list(spec.lowerdirs),
        upperdir=spec.upperdir, driver_workdir=scratch / "ovl", rootfs=rootfs, argv=argv,
        env=list(spec.env), cwd=spec.cwd, user=spec.user, hostname=spec.hostname,
        network=spec.network, interactive=spec.interactive, report_w=report_w, out_w=out_w,
        volatile=spec.volatile, rlimits=list(spec.rlimits), hardening=spec.hardening, console=spec.console,
        console_size=spec.console_size, slirp=spec.slirp, scratch=os.fspath(scratch),
        seccomp_bpf=hardening.filter_for(spec.hardening, spec.seccomp_cache))
    wanted = list(FIXED) + _mount_plan(spec, scratch, plan)
    if spec.init is not None:
        wanted.append((INIT_TARGET, "file"))
    if spec.driver == vfs.NAME:
        vfs.populate(spec.lowerdirs, spec.upperdir)
        return plan, create_in_place(spec.upperdir, wanted)
    init = scratch / "init"
    init.mkdir()
    build_init_layer(spec.lowerdirs, init, wanted)
    plan.lowerdirs = [init, *spec.lowerdirs]
    return plan, None


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
        raise SandboxError("run_step must run inside the user namespace (see sandbox.userns)")
    scratch = spec.workdir
    scratch.mkdir(parents=True, exist_ok=True)
    output: Callable[[bytes], None] = spec.output or default_output
    report_r, report_w = os.pipe()
    out_r, out_w = (None, None) if spec.interactive else os.pipe()
    in_place: InPlace | None = None
    stepper = None
    messages = b""
    tail = b""
    with interruptible():
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
                        pid, start = line[2:].split(b":")
                        spec.on_start(int(pid), int(start))
                    elif line.startswith(b"N:") and out_r is not None:
                        message = line[2:].partition(b":")[2] + b"\n"
                        output(message)     # a build shows it as the step's last words
                        tail = (tail + message)[-TAIL_BYTES:]
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
    exec_error = ""
    for line in messages.splitlines():
        kind, _, text = line.partition(":")
        if kind == "E":
            raise SandboxError(text)
        if kind == "U":
            uid, gid = (int(x) for x in text.split(":"))
            raise idmap.insufficient_ids(uid, gid, "the step's user")
        if kind == "N":
            exec_error = text.partition(":")[2]
        if kind == "X":
            status = int(text)
    if status is None:
        raise SandboxError("the step's sandbox process ended without a status")
    return StepResult(status, last_lines(tail, count), exec_error)


__all__ = ["run_step", "StepSpec", "StepResult", "Mount", "StepInterrupted"]
