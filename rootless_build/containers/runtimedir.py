"""The user's runtime directory for attach sockets, checked on every use.

$XDG_RUNTIME_DIR/rootless-build when the session has one (it must be ours); else under
/tmp/rootless-build-UID, which anybody could create first and so receive our attach
traffic: it is made 0700, and like podman's tmp runtime dir it must be a real directory,
ours, and closed to others.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from rootless_build.errors import ContainerError


def _check(path: Path, private: bool) -> None:
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise ContainerError(f"runtime directory {path} is not a directory: refusing to use it")
    if st.st_uid != os.getuid():
        raise ContainerError(f"runtime directory {path} is owned by uid {st.st_uid}, not by you "
                             f"(uid {os.getuid()}): refusing to use it; set XDG_RUNTIME_DIR")
    if private and st.st_mode & 0o077:
        raise ContainerError(f"runtime directory {path} has mode {stat.S_IMODE(st.st_mode):o}, "
                             "open to other users: refusing to use it (chmod 700 fixes it)")


def _own_dir(path: Path, private: bool) -> Path:
    try:
        os.makedirs(path, 0o700)    # the session's dir too, should it be missing
    except FileExistsError:
        pass
    except OSError as e:
        raise ContainerError(f"runtime directory {path}: {e.strerror}") from None
    _check(path, private)
    return path


def runtime_dir() -> Path:
    """The checked base directory of per-boot state; created 0700 where missing."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:     # the session's own private dir: what is in it must still be ours
        return _own_dir(Path(xdg) / "rootless-build", private=False)
    base = _own_dir(Path(f"/tmp/rootless-build-{os.getuid()}"), private=True)
    return _own_dir(base / "rootless-build", private=False)
