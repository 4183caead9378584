"""Starting a container's monitor: double fork + setsid, so it outlives the CLI and no
terminal signal reaches it; the CLI waits only until the container is running (or has
failed to start) and gets the reason back through a pipe."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

from rootless_build.containers import restart
from rootless_build.containers.catalog import Catalog
from rootless_build.containers.launch import CommandNotRunnable
from rootless_build.containers.monitor import Launch, Monitor
from rootless_build.containers.record import EXIT_OWN_ERROR
from rootless_build.errors import ContainerError

_OK = b"\0ok"
_NOT_RUNNABLE = b"\0exec:"       # + "<status>:<message>": the command cannot be executed


def spawn_monitor(catalog: Catalog, container_id: str, launch: Launch, *, expect_attach: bool,
                  after_exit: Callable[[], None] | None = None) -> None:
    """Returns once the container runs; raises ContainerError with the reason it did not."""
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(ready_r)
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            _detach_stdio(ready_w)
            _monitor_main(catalog, container_id, launch, expect_attach, after_exit, ready_w)
        except BaseException:
            _note(catalog, container_id, _trace())
        finally:
            os._exit(0)
    os.close(ready_w)
    os.waitpid(pid, 0)
    with os.fdopen(ready_r, "rb") as f:
        answer = f.read()
    if answer.startswith(_NOT_RUNNABLE):
        code, _, message = answer[len(_NOT_RUNNABLE):].decode(errors="replace").partition(":")
        raise CommandNotRunnable(message, int(code))
    if answer != _OK:
        message = answer.decode(errors="replace").strip()
        raise ContainerError(message or "the container's monitor exited before starting it "
                             f"(see {catalog.path(container_id) / 'monitor.log'})")


def _monitor_main(catalog: Catalog, container_id: str, launch: Launch, expect_attach: bool,
                  after_exit: Callable[[], None] | None, ready_w: int) -> None:
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU):
        signal.signal(sig, signal.SIG_IGN)
    monitor = Monitor(catalog, catalog.load(container_id), expect_attach)
    try:
        monitor.start(launch)
    except CommandNotRunnable as e:
        _tell(ready_w, _NOT_RUNNABLE + f"{e.exit_code}:{e}".encode())
        return
    except Exception as e:  # noqa: BLE001 - whatever stopped the start goes back to the CLI
        _note(catalog, container_id, _trace())
        _tell(ready_w, str(e).encode() or type(e).__name__.encode())
        return
    _tell(ready_w, _OK)
    status = monitor.serve()
    backoff = restart.Backoff()
    while restart.again(catalog, container_id, status, backoff):
        try:
            monitor.relaunch(launch)
        except Exception:  # noqa: BLE001 - it cannot start again: it stays exited
            _note(catalog, container_id, _trace())
            status = EXIT_OWN_ERROR
            break
        status = monitor.serve()
    monitor.finish(status, after_exit)


def _tell(ready_w: int, answer: bytes) -> None:
    """The CLI may be gone (kill -9): the container must not depend on it (EPIPE ignored)."""
    try:
        os.write(ready_w, answer)
    except OSError:
        pass
    os.close(ready_w)


def _detach_stdio(keep: int) -> None:
    """No terminal, no cwd pinned, no fd of the CLI's kept open."""
    os.chdir("/")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)
    os.closerange(3, keep)
    os.closerange(keep + 1, 1 << 16)


def _trace() -> str:
    import traceback  # only when something failed: ~5 ms of every start otherwise

    return traceback.format_exc()


def _note(catalog: Catalog, container_id: str, text: str) -> None:
    """A monitor's unexpected failure, for whoever investigates: monitor.log beside the record."""
    try:
        with open(catalog.path(container_id) / "monitor.log", "a") as f:
            f.write(text)
    except OSError:
        pass
