"""Compare two images as buildah's conformance test does: the config field by field and
the flattened filesystem path by path, returning readable differences (first ones first).

Skipped: `created`, `history`, `rootfs.diff_ids`, `Hostname`, `Image` (they name the
build, not its result), Docker's own provenance (`container`, `container_config`,
`docker_version`), and the mtimes of /dev, /proc, /sys and /etc (the run-time mounts).

Timestamps the builder makes itself (a RUN's changes, parent directories it creates,
an existing directory a COPY writes into) depend on when the build ran, not on its
inputs: an mtime at or after the build's start counts as "build time" and two build
times are equal; a build time against an input's time is a difference. Every input's
time (context files, archive members, base image) is set long before any build starts.
A directory with a build time on one side only is not a difference either: BuildKit 20.10's
context transfer gives the context's nested directories the time of the transfer (the
classic builder and ours keep the context's), and a builder that writes into an existing
directory may or may not touch its time; neither says anything about the build's inputs.
"""

from __future__ import annotations

from oci_flatten import FsEntry, Image

SKIPPED_TOP = {"created", "history", "rootfs", "container", "container_config", "docker_version"}
SKIPPED_CONFIG = {"Hostname", "Image"}
MTIME_SKIPPED = ("/dev", "/proc", "/sys", "/etc")
FIELDS = ("kind", "linkname", "size", "mode", "uid", "gid", "mtime", "xattrs", "sha256", "device")


def _empty(value) -> bool:
    return value in (None, "", False, [], {}, 0)


def config_differences(ours: dict, theirs: dict) -> list[str]:
    out = []
    for key in sorted(set(ours) | set(theirs)):
        if key in SKIPPED_TOP or key == "config":
            continue
        if not (_empty(ours.get(key)) and _empty(theirs.get(key))) and ours.get(key) != theirs.get(key):
            out.append(f"config {key}: ours {ours.get(key)!r}, docker {theirs.get(key)!r}")
    mine, docker = ours.get("config") or {}, theirs.get("config") or {}
    for key in sorted(set(mine) | set(docker)):
        if key in SKIPPED_CONFIG:
            continue
        a, b = mine.get(key), docker.get(key)
        if _empty(a) and _empty(b):
            continue
        if a != b:
            out.append(f"config.{key}: ours {a!r}, docker {b!r}")
    return out


def fs_differences(ours: Image, theirs: Image, started: int) -> list[str]:
    out = []
    if ours.entries_below_symlinks:
        out.append(f"our layers hold entries beneath a symlink: {ours.entries_below_symlinks[:3]}")
    for path in sorted(set(ours.files) | set(theirs.files)):
        a, b = ours.files.get(path), theirs.files.get(path)
        if a is None or b is None:
            out.append(f"{path}: only in {'docker' if a is None else 'ours'} "
                       f"({(b or a).kind})")  # type: ignore[union-attr]
            continue
        for name in _differing_fields(path, a, b, started):
            out.append(f"{path}: {name} ours {_show(name, getattr(a, name))}, docker {_show(name, getattr(b, name))}")
    return out


def _differing_fields(path: str, a: FsEntry, b: FsEntry, started: int) -> list[str]:
    out = []
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        if name == "size" and a.kind != "file":
            continue
        if name == "mode":
            x, y = (x & 0o777, y & 0o777) if a.kind != "symlink" else (0, 0)
        if name == "mtime":
            if path in MTIME_SKIPPED or path == "/" or path.startswith(tuple(p + "/" for p in MTIME_SKIPPED[:3])):
                continue
            if (x >= started and y >= started) or (a.kind == "dir" and (x >= started or y >= started)):
                continue
        if x != y:
            out.append(name)
    return out


def _show(name: str, value) -> str:
    if name == "mode":
        return oct(value)
    if name == "sha256":
        return value[:12] or "-"
    return repr(value)
