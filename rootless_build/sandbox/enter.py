"""Bootstrap of the re-exec: the first thing the child does is enter the new namespaces.

    python -m rootless_build.sandbox.enter READY_FD GO_FD exec|module ARG...
    (userns.spawn_in_userns runs main() through a `python -c` that sets sys.path first)

It unshares a user and a mount namespace, tells the parent (READY_FD), waits until the
parent has written the id maps (GO_FD), becomes root of the namespace, makes every mount
private and then execs ARG... ("exec") or runs the Python module ARG[0] with ARG[1:] as
its arguments in this very process ("module", saving a second interpreter start-up).
Kept free of heavy imports: it runs before every namespaced command.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

from rootless_build.sandbox import libc

ENV_MARK = "_ROOTLESS_BUILD_USERNS"
SETUP_FAILED = 125


def _fail(message: str) -> None:
    os.write(2, f"rootless-build: {message}\n".encode())
    os._exit(SETUP_FAILED)


def become_root() -> None:
    """Take uid/gid 0 of the namespace; drop the host's supplementary groups when allowed."""
    try:
        with open("/proc/self/setgroups") as f:
            setgroups_allowed = f.read().strip() == "allow"
    except OSError:
        setgroups_allowed = True
    if setgroups_allowed:
        os.setgroups([])
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)


def enter(ready_fd: int, go_fd: int, meanwhile: Callable[[], None] | None = None) -> None:
    """meanwhile: work of the caller's (imports) done while the parent writes the id maps."""
    try:
        libc.unshare(libc.CLONE_NEWUSER | libc.CLONE_NEWNS)
    except OSError as e:
        os.write(ready_fd, f"E{e.strerror}".encode())
        os._exit(SETUP_FAILED)
    os.write(ready_fd, b"R")
    os.close(ready_fd)
    if meanwhile is not None:
        try:
            meanwhile()
        except BaseException:   # noqa: BLE001 - only a head start: the caller does it again
            pass
    answer = os.read(go_fd, 1)
    os.close(go_fd)
    if answer != b"G":
        os._exit(SETUP_FAILED)      # the parent could not write the maps and says why
    try:
        become_root()
        # Mounts made in here must never propagate back to the host's namespace.
        libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)
    except OSError as e:
        _fail(f"setting up the user namespace: {e.strerror}")
    # If the unprivileged parent is killed, we are told so and can clean up.
    libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGTERM)
    os.environ[ENV_MARK] = "1"


def main(argv: list[str]) -> None:
    ready_fd, go_fd, mode, args = int(argv[0]), int(argv[1]), argv[2], argv[3:]
    enter(ready_fd, go_fd)
    if mode == "exec":
        try:
            os.execvp(args[0], args)
        except OSError as e:
            os.write(2, f"rootless-build: {args[0]}: {e.strerror}\n".encode())
            os._exit(127 if isinstance(e, FileNotFoundError) else 126)
    import runpy
    sys.argv = [args[0], *args[1:]]
    runpy.run_module(args[0], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
