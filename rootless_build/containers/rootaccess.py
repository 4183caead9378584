"""A child process standing in a container's root, for cp and export.

A running container: the child joins its namespaces and root (as exec does), so it sees
what the container sees, volumes included. A stopped (or never started) one: the child
enters a new user + mount namespace and mounts the container's tree (its image's layers
under its upper dir, with the container's storage driver) on a scratch directory, then
chroots there; the mount dies with the child. Either way the child is root of the
container's user namespace: owners read and write as container ids, and every path,
symlinks included, resolves inside the container.

While a stopped container's tree is mounted its start lock is held, so `start` cannot
mount the same upper dir at the same time.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator

from rootless_build.containers.catalog import Catalog
from rootless_build.containers.record import Container
from rootless_build.containers.status import is_running, refresh
from rootless_build.store.lock import locked

# Imported before chroot: nothing can be imported from inside the container's root.
_PRELOAD = ("rootless_build.layers.extract", "rootless_build.layers.tree", "rootless_build.layers.tarwriter",
            "rootless_build.layers.tarreader", "rootless_build.layers.compression", "json", "encodings.idna")
CHILD_FAILED = 70


@contextlib.contextmanager
def held(store, catalog: Catalog, container: Container) -> Iterator[tuple[Container, str]]:
    """(the container refreshed, a scratch mount point) with its start lock held; the
    scratch directory is removed at the end (the child that mounted it has ended)."""
    with locked(catalog.path(container.id) / "start.lock"):
        scratch = tempfile.mkdtemp(dir=store.tmp_dir, prefix="ctr-root-")
        try:
            yield refresh(catalog, catalog.load(container.id)), scratch
        finally:
            with contextlib.suppress(OSError):
                os.rmdir(scratch)


def fork_into_root(store, catalog: Catalog, container: Container, scratch: str,
                   prefer_driver: str | None = None) -> int:
    """os.fork() whose child (0 returned) stands in the container's root, cwd `/`. The
    child must end with os._exit. Call within `held`; single-threaded callers only."""
    import importlib

    for name in _PRELOAD:
        importlib.import_module(name)
    if is_running(container):
        from rootless_build.containers import nsenter

        pid = os.fork()
        if pid == 0:
            _guard(lambda: nsenter.enter(container.state.pid))
        return pid
    from rootless_build.sandbox import userns

    pid = userns.fork()
    if pid == 0:
        _guard(lambda: _mount_and_enter(store, catalog, container, scratch, prefer_driver))
    return pid


def _guard(step) -> None:
    try:
        step()
    except BaseException as e:  # noqa: BLE001 - the child reports and leaves
        os.write(2, f"Error: cannot enter the container's filesystem: {e}\n".encode())
        os._exit(CHILD_FAILED)


def _mount_and_enter(store, catalog: Catalog, container: Container, scratch: str, prefer_driver: str | None) -> None:
    from pathlib import Path

    from rootless_build.sandbox.drivers import detect_driver, mount_driver
    from rootless_build.store.unpacked import lower_dirs

    driver = container.driver
    if not driver:        # the first to use its upper dir chooses, as start would
        chosen = detect_driver(store.root, prefer_driver)

        def set_driver(c: Container) -> None:
            c.driver = c.driver or chosen
        driver = catalog.update(container.id, set_driver).driver
    lowers = lower_dirs(store, store.load_image(container.manifest_digest), flat=driver == "vfs")
    mount_driver(driver, lowers, catalog.upper_dir(container.id), catalog.work_dir(container.id), Path(scratch))
    fd = os.open(scratch, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    os.fchdir(fd)
    os.close(fd)
    os.chroot(".")
    os.chdir("/")


def wait_child(pid: int) -> int:
    """The child's exit status (signals as 128+N)."""
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
