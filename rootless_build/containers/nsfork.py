"""Forking straight into a new user + mount namespace (no second interpreter start-up).

The same handshake as sandbox.userns.spawn_in_userns, for a forked child: it unshares,
we write its id maps (newuidmap/newgidmap), it becomes root of the namespace. The
process must be single-threaded (the kernel refuses unshare(CLONE_NEWUSER) otherwise).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from rootless_build.errors import ContainerError


def fork_in_userns(mapping_kind: str = "full", meanwhile: Callable[[], None] | None = None) -> int:
    """os.fork(), the child becoming root of a new user + mount namespace with our id maps
    (mapping_kind "single": only our own id, where newuidmap is refused); the child runs
    meanwhile() while we write the maps."""
    from rootless_build.sandbox import idmap
    from rootless_build.sandbox.enter import enter
    from rootless_build.sandbox.userns import write_maps

    mapping = idmap.plan_mapping(single=mapping_kind == "single")
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        os.close(go_w)
        enter(ready_w, go_r, meanwhile)     # exits the child when the parent gives up
        return 0
    os.close(ready_w)
    os.close(go_r)
    try:
        answer = os.read(ready_r, 512)
        if answer != b"R":
            why = answer[1:].decode(errors="replace") if answer.startswith(b"E") else "it exited"
            raise ContainerError(f"cannot create a user namespace: {why} (see `rootless-build info`)")
        write_maps(pid, mapping)
        os.write(go_w, b"G")
    except BaseException:
        os.close(go_w)
        os.waitpid(pid, 0)
        raise
    finally:
        os.close(ready_r)
    os.close(go_w)
    return pid
