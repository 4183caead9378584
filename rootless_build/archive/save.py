"""`save`: images to an oci-archive, a docker-archive or an oci-dir, written under a
temporary name and renamed into place, so a failed save leaves no half archive."""

from __future__ import annotations

import fcntl
import glob
import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from rootless_build.archive.destinations import DirDestination
from rootless_build.archive.export import ExportImage, select
from rootless_build.archive.tarout import TarOut
from rootless_build.archive.writers import Selected, write_docker_archive, write_oci_layout
from rootless_build.errors import UsageError
from rootless_build.store import Store
from rootless_build.store.lists import list_images
from rootless_build.store.variants import compression_name

FORMATS = ("oci-archive", "docker-archive", "oci-dir")
# docker save writes uncompressed layers; OCI archives are gzip by default (like buildah push)
DEFAULT_COMPRESSION = {"oci-archive": "gzip", "docker-archive": "none", "oci-dir": "gzip"}


def save(store: Store, texts: list[str], output: str | None, fmt: str = "oci-archive",
         compression: str | None = None, stream: BinaryIO | None = None,
         level: int | None = None) -> list[ExportImage]:
    """Write the named images to `output` (a path) or, with output None, to `stream`."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r} (choose {', '.join(FORMATS)})")
    if fmt == "oci-dir" and output is None:
        raise UsageError("--format oci-dir needs -o DIRECTORY")
    comp = compression_name(compression or DEFAULT_COMPRESSION[fmt], level)
    with store.writing():
        lists, texts = _lists(store, texts, fmt)
        selected = select(store, texts) + [(image, ()) for _, found in lists for image in list_images(store, found)]
        if fmt == "oci-dir":
            return _to_directory(Path(output), store, selected, comp, lists)
        if output is None:
            return _write_tar(stream, fmt, store, selected, comp, lists)
        return _to_file(Path(output), fmt, store, selected, comp, lists)


def _lists(store: Store, texts: list[str], fmt: str) -> tuple[tuple, list[str]]:
    """The manifest lists named (saved with all their images), and the other names."""
    from rootless_build.store.lists import find_list
    from rootless_build.store.names import normalize

    lists, rest = [], []
    for text in texts:
        found = find_list(store, text)
        if found is None:
            rest.append(text)
        elif fmt == "docker-archive":
            raise UsageError(f"{text} is a manifest list: a docker-archive holds images only (use oci-archive)")
        else:
            lists.append((normalize(text), found))
    return tuple(lists), rest


def _write_tar(out: BinaryIO, fmt: str, store: Store, selected: Selected, comp: str,
               lists: tuple = ()) -> list[ExportImage]:
    tar = TarOut(out)
    if fmt == "oci-archive":
        images = write_oci_layout(tar, store, selected, comp, lists)
    else:
        images = write_docker_archive(tar, store, selected, comp)
    tar.close()
    return images


def _to_file(path: Path, fmt: str, store: Store, selected: Selected, comp: str,
             lists: tuple = ()) -> list[ExportImage]:
    if path.is_dir():
        raise UsageError(f"{path} is a directory (for an OCI directory use --format oci-dir)")
    try:  # a file with no name until it is complete: a killed save leaves nothing behind
        fd = os.open(path.parent, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o644)
    except OSError:  # a filesystem without O_TMPFILE: a named temp file beside the output
        return _to_named_temp(path, fmt, store, selected, comp, lists)
    with os.fdopen(fd, "wb") as out:
        images = _write_tar(out, fmt, store, selected, comp, lists)
        out.flush()
        os.fchmod(fd, 0o644 & ~_umask())
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        _link_fd(fd, tmp)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return images


def _link_fd(fd: int, path: Path) -> None:
    """Give an O_TMPFILE file a name: linkat(AT_SYMLINK_FOLLOW) of /proc/self/fd/N (with
    AT_EMPTY_PATH it would need CAP_DAC_READ_SEARCH). A dir fd makes Python use linkat."""
    parent = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.link(f"/proc/self/fd/{fd}", path.name, dst_dir_fd=parent, follow_symlinks=True)
    finally:
        os.close(parent)


def _to_named_temp(path: Path, fmt: str, store: Store, selected: Selected, comp: str,
                   lists: tuple = ()) -> list[ExportImage]:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            images = _write_tar(out, fmt, store, selected, comp, lists)
        os.chmod(tmp, 0o644 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return images


def _to_directory(path: Path, store: Store, selected: Selected, comp: str, lists: tuple = ()) -> list[ExportImage]:
    """Build the layout beside `path`, then swap it in (replacing an earlier layout there)."""
    if path.exists() and not (path.is_dir() and (not any(path.iterdir()) or (path / "oci-layout").exists())):
        raise UsageError(f"{path} exists and is not an OCI layout; refusing to replace it")
    _remove_killed_saves(path)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    claim = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    fcntl.flock(claim, fcntl.LOCK_EX)  # held until we are done (or killed): see _remove_killed_saves
    try:
        images = write_oci_layout(DirDestination(tmp), store, selected, comp, lists)
        os.chmod(tmp, 0o755 & ~_umask())
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        os.close(claim)
    return images


def _remove_killed_saves(path: Path) -> None:
    """A directory cannot be written unnamed as a file can (O_TMPFILE): the layout is
    built in .NAME.*.tmp beside it, locked by its save. Those whose lock is free are what
    killed saves left; the next save to the same place removes them."""
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        try:
            fd = os.open(leftover, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # another save is writing it
        else:
            shutil.rmtree(leftover, ignore_errors=True)
        finally:
            os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
