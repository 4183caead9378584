"""Resolve names inside an extraction target with chroot semantics.

Every symlink met on the way to an entry's parent is followed as if the target were
`/`: absolute targets restart at the target root, `..` stops at it. So nothing a layer
contains can make us write outside the target, while layers that rely on symlinked
parents (`lib -> usr/lib`, then `lib/x.so`) still work, as in containerd and docker.
The final component of a name is never followed: callers replace it.

Only this process writes into the target while a layer is extracted, so resolving in
user space and then operating on the path is not racy.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from typing import overload

from rootless_build.errors import LayerError

_MAX_SYMLINKS = 40  # what the kernel allows in one lookup


def join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


class Root:
    """An extraction target; relative paths here are resolved, symlink-free and `/`-joined."""

    def __init__(self, path: str | os.PathLike[str], lowers: list[Root] | None = None):
        self.path = os.path.realpath(os.fspath(path))
        # Overlay mode: the layers below, topmost first; names missing here are looked
        # up there, so a symlink of a lower layer is followed as in the merged view.
        self.lowers = lowers or []
        self._cache: dict[str, str] = {}
        # Called for an existing non-directory in the way of a directory being created;
        # returning True means it was replaced by a directory.
        self.on_not_dir: Callable[[str, os.stat_result], bool] | None = None

    def abs(self, rel: str) -> str:
        return f"{self.path}/{rel}" if rel else self.path

    def invalidate(self) -> None:
        """Forget resolutions: call after removing or replacing anything."""
        self._cache.clear()

    @overload
    def resolve_dir(self, parts: list[str], create: Callable[[str], None]) -> str: ...

    @overload
    def resolve_dir(self, parts: list[str], create: None) -> str | None: ...

    def resolve_dir(self, parts: list[str], create: Callable[[str], None] | None) -> str | None:
        """The resolved relative path of the directory named by `parts`.

        Missing directories are made with `create(rel)` (which must create it), or, when
        `create` is None, the answer is None. A component that exists but is not a
        directory (or a symlink to one) is an error.
        """
        if not parts:
            return ""
        hit = self._cache.get("/".join(parts))
        if hit is not None:
            return hit
        # Start from the longest prefix already resolved, then step forward.
        start = len(parts) - 1
        while start and "/".join(parts[:start]) not in self._cache:
            start -= 1
        cur = self._cache["/".join(parts[:start])] if start else ""
        hops = [0]
        for i in range(start, len(parts)):
            nxt = self._step(cur, parts[i], create, hops)
            if nxt is None:
                return None
            cur = nxt
            self._cache["/".join(parts[:i + 1])] = cur
        return cur

    def _step(self, base: str, name: str, create: Callable[[str], None] | None, hops: list[int],
              via_symlink: bool = False) -> str | None:
        """Resolve one component `name` below the resolved directory `base`."""
        if name == "..":
            return base.rpartition("/")[0]
        if name in ("", "."):
            return base
        rel = join(base, name)
        try:
            st = os.lstat(self.abs(rel))
        except FileNotFoundError:
            below = self._below(rel)
            if below is not None and stat.S_ISLNK(below[1].st_mode):
                return self._follow(base, rel, os.readlink(below[0].abs(rel)), create, hops)
            # Through a symlink only directories that exist (here or below) are made.
            if create is None or (via_symlink and below is None):
                return None
            create(rel)
            return rel
        if stat.S_ISDIR(st.st_mode):
            return rel
        if stat.S_ISLNK(st.st_mode):
            return self._follow(base, rel, os.readlink(self.abs(rel)), create, hops)
        if create is not None and self.on_not_dir is not None and self.on_not_dir(rel, st):
            return rel
        raise LayerError(f"parent {rel!r} is not a directory")

    def _follow(self, base: str, rel: str, target: str, create: Callable[[str], None] | None,
                hops: list[int]) -> str | None:
        """Resolve symlink `rel` (in directory `base`) to `target`, the root being our root."""
        hops[0] += 1
        if hops[0] > _MAX_SYMLINKS:
            raise LayerError(f"too many levels of symbolic links at {rel!r}")
        cur = "" if target.startswith("/") else base
        for part in target.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                cur = cur.rpartition("/")[0]
                continue
            nxt = self._step(cur, part, create, hops, via_symlink=True)
            if nxt is None:
                if create is not None:
                    raise LayerError(f"parent {rel!r} is a symlink to a missing directory ({target})")
                return None
            cur = nxt
        return cur

    def _below(self, rel: str) -> tuple[Root, os.stat_result] | None:
        """The entry at `rel` in the layers below (overlay mode), topmost first, as the
        merged view shows it: a whiteout hides it, an opaque parent stops the search."""
        for lower in self.lowers:
            path = lower.abs(rel)
            lower_parent = path.rpartition("/")[0]
            if os.path.realpath(lower_parent) != lower_parent:
                continue  # a symlink on the way in that layer: the entry is not at `rel` there
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                if _is_opaque(lower_parent):
                    return None
                continue
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                return None
            return lower, st
        return None

    def lookup(self, parts: list[str]) -> str | None:
        """Resolved relative path of an existing entry (final component not followed)."""
        if not parts:
            return ""
        parent = self.resolve_dir(parts[:-1], None)
        if parent is None:
            return None
        rel = join(parent, parts[-1])
        return rel if os.path.lexists(self.abs(rel)) else None


def _is_opaque(path: str) -> bool:
    for name in ("user.overlay.opaque", "trusted.overlay.opaque"):
        try:
            if os.getxattr(path, name)[:1] == b"y":
                return True
        except OSError:
            pass
    return False
