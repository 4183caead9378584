"""Mount points a step needs (/proc, /dev, /etc/hosts..., --mount targets) without
committing them.

Overlay drivers get them from an extra top-most lower dir holding only the missing ones
(Docker's "init layer"), so the upper dir never sees them. For vfs they are created in
the full copy and removed afterwards, with the parents' times put back.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rootless_build.sandbox.lowerview import merged_lookup

# (container path, "dir" | "file")
FIXED = (("proc", "dir"), ("sys", "dir"), ("dev", "dir"), ("etc/hosts", "file"),
         ("etc/resolv.conf", "file"), ("etc/hostname", "file"))


def _ancestors(rel: str) -> list[str]:
    parts = rel.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _make(path: Path, kind: str) -> None:
    if kind == "dir":
        path.mkdir(mode=0o755)
        os.chmod(path, 0o755)
    else:
        path.touch(mode=0o644)
        os.chmod(path, 0o644)


def build_init_layer(lowerdirs: Sequence[Path], init_dir: Path, wanted: Sequence[tuple[str, str]]) -> None:
    """Fill init_dir with the wanted mount points that the merged lowers lack. Parent dirs
    copy the owner, mode and times of the lower dir they stand in front of."""
    copied: list[tuple[Path, os.stat_result]] = []
    made: set[str] = set()
    for rel, kind in wanted:
        rel = rel.strip("/")
        if not rel or merged_lookup(lowerdirs, rel)[0] != "absent":
            continue        # present, or behind a symlink the container resolves itself
        for parent in _ancestors(rel):
            if parent in made:
                continue
            seen, host_path = merged_lookup(lowerdirs, parent)
            _make(init_dir / parent, "dir")
            if seen == "dir" and host_path is not None:
                st = os.lstat(host_path)
                os.chown(init_dir / parent, st.st_uid, st.st_gid)
                os.chmod(init_dir / parent, st.st_mode & 0o7777)
                copied.append((init_dir / parent, st))
            made.add(parent)
        if rel not in made:
            _make(init_dir / rel, kind)
            made.add(rel)
    for path, st in reversed(copied):
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


@dataclass
class InPlace:
    """Mount points created inside a vfs full copy, to be removed after the step."""

    root: Path
    created: list[str] = field(default_factory=list)
    touched: dict[str, tuple[int, int]] = field(default_factory=dict)   # parent -> (atime, mtime)
    after: dict[str, int] = field(default_factory=dict)     # parent -> mtime once we were done

    def seal(self) -> None:
        """Note the parents' mtimes after our changes, to tell the step's own from ours."""
        for rel in self.touched:
            self.after[rel] = os.lstat(self.root / rel).st_mtime_ns

    def remove(self) -> None:
        untouched = {rel for rel, mtime in self.after.items()
                     if os.lstat(self.root / rel).st_mtime_ns == mtime}
        for rel in reversed(self.created):
            path = self.root / rel
            try:
                if path.is_dir() and not path.is_symlink():
                    path.rmdir()        # kept when the step put something in it
                else:
                    path.unlink()
            except OSError:
                pass
        for rel, times in sorted(self.touched.items(), key=lambda kv: -kv[0].count("/")):
            if rel not in untouched:
                continue    # the step changed this dir itself: its new mtime is right
            try:
                os.utime(self.root / rel, ns=times, follow_symlinks=False)
            except OSError:
                pass


def create_in_place(root: Path, wanted: Sequence[tuple[str, str]]) -> InPlace:
    record = InPlace(root)
    for rel, kind in wanted:
        rel = rel.strip("/")
        if not rel or merged_lookup([root], rel)[0] != "absent":
            continue
        for target in [*_ancestors(rel), rel]:
            path = root / target
            if os.path.lexists(path):
                continue
            parent = os.path.dirname(target)
            if parent not in record.touched and parent not in record.created:
                st = os.lstat(root / parent)
                record.touched[parent] = (st.st_atime_ns, st.st_mtime_ns)
            _make(path, "dir" if target != rel else kind)
            record.created.append(target)
    record.seal()
    return record
