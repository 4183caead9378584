"""Removing a directory tree as the user: extracted layers and a RUN step's dirs hold
read-only and mode-000 directories (overlay's work dir), which we may open up when we own
them. What sub-ids own can only be removed inside the user namespace: callers that can
enter it pass a fallback (see gc.collect)."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

_OPENING = {os.open, os.scandir, os.listdir, os.lstat}


def remove_tree(path: Path) -> bool:
    """Remove `path` (a tree, a file or a symlink) as far as we may; True when it is gone.
    Never raises for what it cannot remove."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return True
    if not stat.S_ISDIR(st.st_mode):
        _unlink(path)
        return not os.path.lexists(path)
    import shutil  # lazily: ~1.5 ms of start-up, and a cached build removes nothing

    _open_up(path)
    shutil.rmtree(path, onerror=_retry)
    return not os.path.lexists(path)


def _retry(func: Callable[..., object], failed: str, _exc_info: object) -> None:
    """rmtree's error hook: open up the directory that refused and try again. (It used to
    call func(path) again, which for os.open is a TypeError: rmtree crashed on any mode-000
    directory.)"""
    _open_up(os.path.dirname(failed))
    if func in _OPENING and os.path.isdir(failed) and not os.path.islink(failed):
        if _open_up(failed):
            import shutil

            shutil.rmtree(failed, onerror=_retry)
    elif func in (os.unlink, os.remove, os.rmdir):
        try:
            func(failed)
        except OSError:
            pass


def _open_up(path: str | Path) -> bool:
    try:
        os.chmod(path, stat.S_IRWXU)
        return True
    except OSError:
        return False


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except PermissionError:
        _open_up(path.parent)
        try:
            path.unlink()
        except OSError:
            pass
    except OSError:
        pass
