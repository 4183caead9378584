"""Container lifecycle: create, start, stop, kill, wait, remove.

Plain functions over a Store and its Catalog; the CLI is a thin layer over these.
"""

from __future__ import annotations

import json
import signal

from rootless_build.containers import launch, names, procs, protocol, restart, runconfig
from rootless_build.containers.catalog import Catalog
from rootless_build.containers.record import RUNNING, Container, now_iso
from rootless_build.containers.removal import remove_container_files
from rootless_build.containers.spawn import spawn_monitor
from rootless_build.containers.status import is_running, monitor_alive, refresh
from rootless_build.errors import ContainerError, ImageNotFound, UsageError
from rootless_build.store.lock import locked

MONITOR_FINISH_WAIT = 60.0      # a monitor records the exit and flushes clients within this


def create(store, catalog: Catalog, image_ref: str, opts: runconfig.RunOptions,
           name: str | None = None, driver: str | None = None) -> Container:
    if name and not names.is_valid_name(name):
        raise UsageError(f'invalid container name "{name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed')
    from rootless_build.containers import mountspec

    asked = mountspec.parse_all(opts.volumes, opts.mounts, opts.tmpfs)   # checked before any pull
    try:
        image = store.resolve(image_ref)
    except ImageNotFound:           # docker run pulls what it does not have
        from rootless_build.registry import ensure_image

        image = ensure_image(store, image_ref, pull_policy="missing")
    container_id = names.new_id()
    # the raw JSON, not the parsed model: docker's field names, and no parsing needed
    image_config = json.loads(image.config_bytes).get("config") or {}
    config = runconfig.resolve(image_config, opts, container_id)
    pairs = mountspec.with_image_volumes(asked, image_config.get("Volumes"))
    container = Container(id=container_id, name=(name or "").lstrip("/"), image=image_ref,
                          image_id=image.id, manifest_digest=image.manifest_digest,
                          created=now_iso(), driver=driver or "", config=config)
    if not any(request for _, request in pairs):
        container.config.mounts = [m for m, _ in pairs]
        return catalog.create(container)
    from rootless_build.containers import volumes  # only for a container with volumes

    store_volumes = volumes.Volumes(store.root)
    with store_volumes.lock():      # no `volume rm` between making a volume and recording its use
        container.config.mounts = volumes.attach(store_volumes, pairs)
        try:
            return catalog.create(container)
        except BaseException:
            volumes.remove_anonymous(store_volumes, _anonymous(container))
            raise


def _anonymous(container: Container) -> list[str]:
    return [m.name for m in container.config.mounts if m.type == "volume" and m.anonymous]


def remove_files(catalog: Catalog, container: Container, *, with_volumes: bool) -> None:
    """The container's files; with its anonymous volumes too (rm -v, run --rm)."""
    remove_container_files(catalog, container.id)
    if with_volumes and _anonymous(container):
        from rootless_build.containers import volumes

        # the store's root holds containers/ and volumes/
        volumes.remove_anonymous(volumes.Volumes(catalog.dir.parent), _anonymous(container), catalog)


def start(store, catalog: Catalog, container: Container, *, expect_attach: bool = False,
          prefer_driver: str | None = None, prefer_isolation: str | None = None) -> Container:
    """Start (or restart) a container's process under a new monitor; no-op when running."""
    # One starter at a time: two monitors must never run one container (its own lock
    # file: the monitor takes the record's lock while this one is held).
    with locked(catalog.path(container.id) / "start.lock"):
        container = refresh(catalog, catalog.load(container.id))
        if is_running(container):
            return container
        if monitor_alive(container):            # the previous run's monitor is still finishing
            s = container.state
            procs.wait_gone(s.monitor_pid, s.monitor_start, MONITOR_FINISH_WAIT)
        after_exit = None
        if container.config.auto_remove:
            def after_exit() -> None:
                remove_files(catalog, container, with_volumes=True)
        spawn_monitor(catalog, container.id, launch.launcher(store, catalog, container, prefer_driver,
                                                                    prefer_isolation),
                      expect_attach=expect_attach, after_exit=after_exit)
    try:
        return catalog.load(container.id)
    except ContainerError:      # --rm and already gone
        return container


def stop(catalog: Catalog, container: Container, timeout: int | None = None) -> Container:
    """The stop signal (image STOPSIGNAL or SIGTERM), SIGKILL after `timeout` seconds."""
    container = refresh(catalog, container)
    restart.mark_stopped(catalog, container)
    if container.state.status == restart.RESTARTING and monitor_alive(container):
        return _after_monitor(catalog, container)   # it sees the mark within 50 ms and ends
    container = refresh(catalog, catalog.load(container.id))
    if not is_running(container):
        return container
    s = container.state
    timeout = container.config.stop_timeout if timeout is None else timeout
    sig = procs.parse_signal(container.config.stop_signal or "SIGTERM")
    if timeout <= 0 or not procs.send(s.pid, s.pid_start, sig) or \
            not procs.wait_gone(s.pid, s.pid_start, timeout):
        procs.send(s.pid, s.pid_start, signal.SIGKILL)
        procs.wait_gone(s.pid, s.pid_start, 10.0)
    return _after_monitor(catalog, container)


def kill(catalog: Catalog, container: Container, sig: int = signal.SIGKILL) -> None:
    container = refresh(catalog, container)
    if not is_running(container):
        raise ContainerError(f"cannot kill container {container.name}: it is not running")
    # docker's HasBeenManuallyStopped: whatever the signal, no policy restarts it after
    # this (marked first: the monitor reads the mark as soon as the process ends)
    restart.mark_stopped(catalog, container)
    s = container.state
    if not procs.send(s.pid, s.pid_start, sig):
        raise ContainerError(f"cannot kill container {container.name}: its process is gone")


def wait(catalog: Catalog, container: Container) -> int:
    """Block until the container is not running; its exit status (--rm ones too: the
    monitor tells its watchers after removing the container)."""
    container = refresh(catalog, container)
    if container.state.status == RUNNING:
        try:
            code = protocol.wait_exit(catalog.socket_path(container.id))
        except OSError:
            code = None
        if code is not None:
            return code
        container = _after_monitor(catalog, container, timeout=None)
    code = container.state.exit_code
    return 0 if code is None else code


def _after_monitor(catalog: Catalog, container: Container, timeout: float | None = MONITOR_FINISH_WAIT) -> Container:
    s = container.state
    procs.wait_gone(s.monitor_pid, s.monitor_start, timeout)
    try:
        return refresh(catalog, catalog.load(container.id))
    except ContainerError:      # --rm: the monitor removed it; report what we knew
        return container


def remove(catalog: Catalog, container: Container, *, force: bool = False, with_volumes: bool = False) -> None:
    container = refresh(catalog, container)
    if force:
        restart.mark_stopped(catalog, container)
    if container.state.status == RUNNING:
        if not force:
            raise ContainerError(f"cannot remove container {container.name}: container is running: "
                                 "stop the container before removing or force remove (rm -f)")
        s = container.state
        procs.send(s.pid, s.pid_start, signal.SIGKILL)
        procs.wait_gone(s.pid, s.pid_start, 10.0)
        procs.wait_gone(s.monitor_pid, s.monitor_start, MONITOR_FINISH_WAIT)
    elif monitor_alive(container):
        s = container.state
        procs.wait_gone(s.monitor_pid, s.monitor_start, MONITOR_FINISH_WAIT)
    remove_files(catalog, container, with_volumes=with_volumes)
