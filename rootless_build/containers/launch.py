"""Starting a container's process, from its monitor, through the sandbox.

    monitor ── runner: forked straight into a new user + mount namespace (no second
                 │       interpreter start-up), root there; unpacks missing layers,
                 │       then run_step() with the container's stdio as its own
                 └─ stepper ── init (pid 1 of the container) ── the command

The runner tells the monitor over a pipe: `D:<driver>` (the storage driver, chosen once
per container), `P:<pid>:<start time>` (pid 1's host pid, for signals and exec),
`F:<status>:<message>` (its command could not be executed: 126 or 127, as docker) or
`E:<error>` (it could not start). Its exit status is the container's.
"""

from __future__ import annotations

import os
import signal

from rootless_build.containers.catalog import Catalog
from rootless_build.containers.monitor import Launch, Launched
from rootless_build.containers.record import EXIT_OWN_ERROR, Container
from rootless_build.containers.runconfig import process_env
from rootless_build.errors import ContainerError, RootlessBuildError


class CommandNotRunnable(ContainerError):
    """The container's command could not be executed: docker's status (126, 127) and words."""

    command_status = True

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def launcher(store, catalog: Catalog, container: Container, prefer_driver: str | None = None,
             prefer_isolation: str | None = None) -> Launch:
    def launch(stdio: tuple[int, int, int], console: int | None) -> Launched:
        from rootless_build.sandbox import isolation, userns

        # The same choice as a build's RUN makes here (probed once per user and place).
        plan = isolation.choose(store.tmp_dir, prefer_isolation, container.driver or prefer_driver,
                                shared_cache=store.cache_dir)
        report_r, report_w = os.pipe()
        pid = userns.fork(plan.id_mapping(), meanwhile=_import_runner) if plan.userns else os.fork()
        if pid == 0:
            os.close(report_r)
            _runner(store, catalog, container, plan, stdio, console, report_w)
        os.close(report_w)
        return _await_init(pid, report_r, catalog, container)
    return launch


def _import_runner() -> None:
    """What the runner imports, while newuidmap/newgidmap run (~20 ms saved on a start)."""
    from rootless_build.containers import security  # noqa: F401
    from rootless_build.sandbox import spec, step  # noqa: F401
    from rootless_build.store import unpacked  # noqa: F401


def _await_init(pid: int, report_r: int, catalog: Catalog, container: Container) -> Launched:
    data = b""
    with os.fdopen(report_r, "rb", buffering=0) as f:
        while True:
            line = f.readline()
            if not line:
                break
            kind, _, text = line.decode(errors="replace").rstrip("\n").partition(":")
            if kind == "D" and text != container.driver:
                def set_driver(c: Container, driver: str = text) -> None:
                    c.driver = driver
                catalog.update(container.id, set_driver)
            elif kind == "P":
                init_pid, _, start = text.partition(":")
                return Launched(pid=pid, init_pid=int(init_pid), init_start=int(start))
            elif kind == "F":
                os.waitpid(pid, 0)
                code, _, message = text.partition(":")
                raise CommandNotRunnable(message, int(code))
            elif kind == "E":
                data += text.encode() + b"\n"
    os.waitpid(pid, 0)
    raise ContainerError(data.decode(errors="replace").strip() or "the container's process ended before it started")


def _runner(store, catalog: Catalog, container: Container, plan,
            stdio: tuple[int, int, int], console: int | None, report_w: int) -> None:
    code = EXIT_OWN_ERROR
    started = []
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for target, fd in enumerate(stdio):
            os.dup2(fd, target)
        # The monitor's ends (stdin's write end above all) must not stay open in here.
        keep = sorted(fd for fd in (report_w, console) if fd is not None)
        for low, high in zip([2, *keep], [*keep, 1 << 16], strict=True):
            os.closerange(low + 1, high)
        spec = _step_spec(store, catalog, container, plan, report_w, started)
        spec.console = console
        if console is not None and len(container.config.console_size) == 2:
            spec.console_size = (container.config.console_size[0], container.config.console_size[1])
        from rootless_build.sandbox.step import run_step

        result = run_step(spec)
        code = result.exit_code
        if result.exec_error and not started:
            os.write(report_w, f"F:{code}:{result.exec_error}\n".encode())
    except RootlessBuildError as e:
        _fail(report_w, str(e), started)
    except BaseException as e:  # noqa: BLE001 - a bug: one line for the user, details in the log
        _fail(report_w, f"internal error: {type(e).__name__}: {e}", started)
        import traceback  # only for a bug: not on every start

        with open(catalog.path(container.id) / "monitor.log", "a") as f:
            f.write(traceback.format_exc())
    finally:
        os._exit(code)


def _fail(report_w: int, message: str, started: list[int]) -> None:
    """Before the init runs the monitor reports it; after, it is the container's stderr."""
    line = " ".join(message.split())
    if started:
        os.write(2, f"rootless-build: {line}\n".encode())
    else:
        os.write(report_w, f"E:{line}\n".encode())


def _step_spec(store, catalog: Catalog, container: Container, plan,
               report_w: int, started: list[int]):
    from rootless_build.containers import security
    from rootless_build.containers.volumemounts import sandbox_mounts
    from rootless_build.sandbox.seccomp import user_cache_dir
    from rootless_build.sandbox.spec import StepSpec
    from rootless_build.store.unpacked import lower_dirs

    image = store.load_image(container.manifest_digest)
    driver = container.driver or plan.driver
    lowerdirs = lower_dirs(store, image, warn=lambda message: os.write(2, f"warning: {message}\n".encode()),
                           flat=driver == "vfs")
    os.write(report_w, f"D:{driver}\n".encode())

    cfg = container.config
    network, slirp = _network(cfg, plan)
    mounts, copied_up = sandbox_mounts(store, cfg)

    def on_start(init_pid: int, start: int) -> None:
        started.append(init_pid)
        os.write(report_w, f"P:{init_pid}:{start}\n".encode())
        if copied_up:
            from rootless_build.containers.volumes import Volumes
            for name in copied_up:
                Volumes(store.root).mark_filled(name)
    return StepSpec(lowerdirs=lowerdirs, upperdir=catalog.upper_dir(container.id),
                    workdir=catalog.work_dir(container.id), argv=list(cfg.argv), driver=driver,
                    env=process_env(cfg), cwd=cfg.working_dir, user=cfg.user, hostname=cfg.hostname,
                    network=network, slirp=slirp, dns=list(cfg.dns),
                    extra_hosts=[(h.split(":", 1)[0], h.split(":", 1)[1]) for h in cfg.extra_hosts],
                    mounts=mounts, read_only=cfg.read_only, interactive=True, on_start=on_start,
                    hardening=security.hardening_of(cfg), init=security.init_binary() if cfg.init else None,
                    seccomp_cache=user_cache_dir(),
                    isolation="chroot" if plan.isolation == "chroot" else "oci",
                    chroot_mounts=plan.chroot_mounts)


def _tun_usable() -> bool:
    try:
        os.close(os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC))
    except OSError:
        return False
    return True


def _network(cfg, plan):
    """The step's network mode and slirp4netns's options with the published ports."""
    mode, _, options = cfg.network.partition(":")
    if mode != "slirp4netns":
        return mode, None
    if plan.isolation == "chroot":      # no user namespace: no network namespace either
        if cfg.ports:
            raise ContainerError("published ports need a network namespace, which chroot isolation "
                                 "cannot make here; run without -p/-P or with --network host")
        return "host", None
    import shutil

    from rootless_build.sandbox.slirp import PortForward, parse_options

    if shutil.which("slirp4netns") is None:
        raise ContainerError("slirp4netns is not installed (apt-get install slirp4netns); "
                             "or run with --network host")
    if not _tun_usable():       # inside a container given no /dev/net/tun: share its network
        if cfg.ports:
            raise ContainerError("published ports need /dev/net/tun, which this place does not give "
                                 "(docker/podman: --device /dev/net/tun); or run with --network host")
        os.write(2, b"warning: no usable /dev/net/tun here: the container shares this network "
                    b"(give the outer container --device /dev/net/tun for a network of its own)\n")
        return "host", None
    slirp = parse_options(options)
    slirp.ports = [PortForward(p.host_ip, p.host_port, p.container_port, p.protocol) for p in cfg.ports]
    return mode, slirp
