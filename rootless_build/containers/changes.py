"""`diff`: what a container changed in its image's filesystem, as docker lists it.

`A path` added, `C path` changed, `D path` deleted, sorted by path. With an overlay
driver the upper dir holds exactly the changes: a whiteout is a deletion, an entry the
image has is a change (directories too: docker lists the parents of what changed), the
rest is added. With vfs the upper dir is a full copy, compared entry by entry with the
image's tree. Read inside the user namespace, where the files' owners are readable.
"""

from __future__ import annotations

import json
import os
import stat

from rootless_build.containers.catalog import Catalog
from rootless_build.containers.record import Container
from rootless_build.errors import ContainerError

ADDED, CHANGED, DELETED = "A", "C", "D"


def container_changes(store, catalog: Catalog, container: Container) -> list[tuple[str, str]]:
    """[(kind, /path)] sorted by path."""
    from rootless_build.sandbox import userns

    read_r, read_w = os.pipe()
    pid = userns.fork()
    if pid == 0:
        os.close(read_r)
        report: dict[str, object]
        try:
            report = {"changes": _changes(store, catalog, container)}
        except BaseException as e:  # noqa: BLE001 - the parent turns it into one line
            report = {"error": str(e) or type(e).__name__}
        with os.fdopen(read_w, "w") as f:
            json.dump(report, f)
        os._exit(0)
    os.close(read_w)
    with os.fdopen(read_r) as f:
        text = f.read()
    os.waitpid(pid, 0)
    changes: list[list[str]] | None
    try:
        answer = json.loads(text)
        changes = answer["changes"] if "error" not in answer else None
    except (ValueError, TypeError, KeyError):
        answer, changes = {"error": "reading the container's changes failed"}, None
    if changes is None:
        raise ContainerError(f"diff {container.name}: {answer['error']}")
    return [(str(kind), str(path)) for kind, path in changes]


def _changes(store, catalog: Catalog, container: Container) -> list[tuple[str, str]]:
    from rootless_build.store.unpacked import lower_dirs

    upper = catalog.upper_dir(container.id)
    lowers = [str(p) for p in lower_dirs(store, store.load_image(container.manifest_digest),
                                         flat=container.driver == "vfs")]
    if container.driver == "vfs":
        found = _vfs_changes(str(upper), lowers)
    else:
        found = _overlay_changes(str(upper), lowers, fuse=container.driver == "fuse-overlayfs")
    return sorted(found, key=lambda c: c[1])


def _overlay_changes(upper: str, lowers: list[str], fuse: bool) -> list[tuple[str, str]]:
    out = []
    for dirpath, dirnames, filenames in os.walk(upper):
        rel_dir = "/" + os.path.relpath(dirpath, upper) if dirpath != upper else ""
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            rel = f"{rel_dir}/{name}"
            st = os.lstat(path)
            if fuse and name.startswith(".wh."):
                if name not in (".wh..wh..opq", ".wh..opq"):
                    out.append((DELETED, f"{rel_dir}/{name[4:]}"))
                continue
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                out.append((DELETED, rel))
                continue
            out.append((CHANGED if _in_image(lowers, rel) else ADDED, rel))
    return out


def _in_image(lowers: list[str], rel: str) -> bool:
    """Whether the image's merged tree has `rel` (lowers top-most first)."""
    parts = rel.strip("/").split("/")
    for lower in lowers:
        path = os.path.join(lower, *parts)
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            if _hidden_below(lower, parts):
                return False
            continue
        return not (stat.S_ISCHR(st.st_mode) and st.st_rdev == 0)
    return False


def _hidden_below(lower: str, parts: list[str]) -> bool:
    """An opaque parent in this layer hides what the layers below have."""
    for i in range(1, len(parts)):
        try:
            if os.getxattr(os.path.join(lower, *parts[:i]), "user.overlay.opaque", follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def _vfs_changes(full: str, lowers: list[str]) -> list[tuple[str, str]]:
    """lowers: the image's flat tree (none for an image without layers), compared in place."""
    if lowers:
        return _compare(lowers[0], full)
    import tempfile

    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.dirname(full)), prefix="diff-") as empty:
        return _compare(empty, full)


def _compare(old: str, new: str) -> list[tuple[str, str]]:
    out = []
    for dirpath, dirnames, filenames in os.walk(new):
        rel_dir = "/" + os.path.relpath(dirpath, new) if dirpath != new else ""
        for name in dirnames + filenames:
            rel = f"{rel_dir}/{name}"
            st = os.lstat(os.path.join(dirpath, name))
            try:
                before = os.lstat(old + rel)
            except (FileNotFoundError, NotADirectoryError):
                out.append((ADDED, rel))
                if name in dirnames:
                    dirnames.remove(name)       # everything below is added too: docker lists it
                    out += [(ADDED, r) for r in _all_below(os.path.join(dirpath, name), rel)]
                continue
            if _differs(before, st):
                out.append((CHANGED, rel))
    for dirpath, dirnames, filenames in os.walk(old):
        rel_dir = "/" + os.path.relpath(dirpath, old) if dirpath != old else ""
        for name in list(dirnames) + filenames:
            rel = f"{rel_dir}/{name}"
            if not os.path.lexists(new + rel):
                out.append((DELETED, rel))
                if name in dirnames:
                    dirnames.remove(name)       # docker lists a deleted tree by its top only
    return out


def _all_below(path: str, rel: str) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(path):
        sub = os.path.relpath(dirpath, path)
        prefix = rel if sub == "." else f"{rel}/{sub}"
        found += [f"{prefix}/{n}" for n in dirnames + filenames]
    return found


def _differs(a: os.stat_result, b: os.stat_result) -> bool:
    if stat.S_IFMT(a.st_mode) != stat.S_IFMT(b.st_mode) or a.st_mode != b.st_mode:
        return True
    if (a.st_uid, a.st_gid) != (b.st_uid, b.st_gid):
        return True
    if int(a.st_mtime) != int(b.st_mtime):
        return True
    return not stat.S_ISDIR(a.st_mode) and a.st_size != b.st_size
