"""The merged view of overlay lower dirs, read without mounting: what a RUN --mount
from= a stage or image shows.

Callers name paths of the merged view; whiteouts, opaque dirs and which layer holds what
stay in here (and in lowerview, which reads each format of them).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from rootless_build.errors import LayerError, SandboxError
from rootless_build.layers.paths import resolve_links, split_clean
from rootless_build.sandbox.lowerview import OPAQUE_MARKER, WHITEOUT_PREFIX, is_opaque, is_whiteout, merged_lookup
from rootless_build.sandbox.vfs import flatten_into


class MergedView:
    """Lower dirs, top-most first, as overlay would show them merged."""

    def __init__(self, lowerdirs: Sequence[Path]) -> None:
        self.lowerdirs = list(lowerdirs)

    def resolve(self, path: str) -> str:
        """`path` with symlinks resolved in the merged view, as if chrooted into it."""
        def link_target(candidate: str) -> str | None:
            kind, host = merged_lookup(self.lowerdirs, candidate)
            return os.readlink(host) if kind == "symlink" and host is not None else None

        try:
            return resolve_links(link_target, path)
        except LayerError as e:
            raise SandboxError(str(e)) from None

    def kind(self, path: str) -> str:
        """What the view shows at `path`, symlinks followed: "absent", "dir", "file" or
        "other"."""
        rel = self.resolve(path)
        kind = merged_lookup(self.lowerdirs, rel)[0] if rel else "dir"
        return "absent" if kind == "blocked" else kind

    def show(self, path: str, scratch: Path) -> Path | None:
        """A host path showing the view's `path` (None when it has none): the entry itself,
        or for a directory the one layer's that alone makes it (and holds no whiteouts),
        else a flattened copy made in `scratch`."""
        rel = self.resolve(path)
        kind, host = merged_lookup(self.lowerdirs, rel) if rel else ("dir", None)
        if kind in ("absent", "blocked"):
            return None
        if kind != "dir":
            return Path(str(host))
        layers = self._dir_layers(rel)
        if len(layers) == 1 and not _has_markers(layers[0]):
            return layers[0]
        flatten_into(layers, scratch)
        return scratch

    def copy_dir(self, path: str, dest: Path) -> None:
        """A plain copy of the view's directory `path` in `dest` (cp -a: owners, modes and
        times kept; whiteouts applied)."""
        flatten_into(self._dir_layers(self.resolve(path)), dest)

    def _dir_layers(self, rel: str) -> list[Path]:
        """The host dirs (top-most first) whose union is the merged directory at `rel` (a
        resolved path: its parents are directories)."""
        layers = [os.fspath(d) for d in self.lowerdirs]
        prefix = ""
        for name in split_clean(rel):
            below = []
            for layer in layers:
                parent = os.path.join(layer, prefix)
                path = os.path.join(parent, name)
                try:
                    st = os.lstat(path)
                except (FileNotFoundError, NotADirectoryError):
                    if os.path.lexists(os.path.join(parent, WHITEOUT_PREFIX + name)):
                        break
                    continue
                if is_whiteout(st) or not stat.S_ISDIR(st.st_mode):
                    break
                below.append(layer)
                if is_opaque(path):
                    break
            layers = below
            prefix = os.path.join(prefix, name)
        return [Path(os.path.join(layer, prefix)) if prefix else Path(layer) for layer in layers]


def _has_markers(top: Path) -> bool:
    """Whether a layer's directory holds whiteouts or opaque marks (not to be shown as is)."""
    for dirpath, dirs, files in os.walk(top):
        for name in files + dirs:
            if name.startswith(WHITEOUT_PREFIX) or name == OPAQUE_MARKER:
                return True
        for name in files:
            if is_whiteout(os.lstat(os.path.join(dirpath, name))):
                return True
        if any(is_opaque(os.path.join(dirpath, d)) for d in dirs):
            return True
    return False
