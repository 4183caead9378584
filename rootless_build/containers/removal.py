"""Deleting a container's directory. Its upper dir holds files owned by subordinate ids
(whatever the container chowned or created as another user) and overlay's mode-000 work
dir: what the user cannot delete from outside is deleted as root of the user namespace."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from rootless_build.containers.catalog import RECORD, Catalog
from rootless_build.errors import ContainerError


def remove_container_files(catalog: Catalog, container_id: str) -> None:
    folder = catalog.path(container_id)
    with catalog.removing(container_id):
        for sub in ("upper", "work"):
            remove_tree(folder / sub)
        # the record last: until then `ps -a` still lists it and rm can be retried
        for entry in list(folder.iterdir()) if folder.is_dir() else []:
            if entry.name != RECORD:
                remove_tree(entry)
        try:
            (folder / RECORD).unlink()
            folder.rmdir()
        except FileNotFoundError:
            pass
        except OSError as e:
            raise ContainerError(f"removing {folder}: {e.strerror}") from None
    try:
        shutil.rmtree(catalog.runtime_path(container_id), ignore_errors=True)
    except ContainerError:
        pass                # a runtime dir that is not ours holds nothing of ours


def remove_tree(path: Path) -> None:
    """As the user when that works (the common case, fast), else inside the namespace."""
    if not os.path.lexists(path):
        return
    _remove_as_user(path)
    if not os.path.lexists(path):
        return
    from rootless_build.sandbox.userns import in_userns, spawn

    if in_userns():
        raise ContainerError(f"cannot remove {path}: permission denied even as root of the user namespace")
    status = spawn(["rm", "-rf", "--", str(path)], warn=None)
    if status != 0 or os.path.lexists(path):
        raise ContainerError(f"cannot remove {path} (rm -rf in the user namespace: exit status {status})")


def _remove_as_user(path: Path) -> None:
    """rmtree that makes read-only (or mode 000) directories we own writable on the way."""
    if path.is_symlink() or not path.is_dir():
        try:
            path.unlink()
        except OSError:
            pass
        return

    def retry(func, failed, _exc) -> None:
        try:
            os.chmod(os.path.dirname(failed), 0o700)
            if os.path.isdir(failed) and not os.path.islink(failed):
                os.chmod(failed, 0o700)
                shutil.rmtree(failed, onerror=lambda *_: None)
            else:
                func(failed)
        except OSError:
            pass

    try:
        os.chmod(path, 0o700)
    except OSError:
        pass
    shutil.rmtree(path, onerror=retry)
