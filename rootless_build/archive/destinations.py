"""Where an export's files go: a tar stream (tarout.TarOut) or a directory. Both take
bytes, copies of blob files, and "deferred" files whose name depends on their digest,
streamed while they are made (a layer compressed during the save)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Protocol

from rootless_build.oci.models import Descriptor

# produce(out) writes a file's bytes to `out` and returns their descriptor
Producer = Callable[[BinaryIO], Descriptor]


class Destination(Protocol):
    def add_bytes(self, name: str, data: bytes) -> None: ...

    def add_file(self, name: str, path: Path, size: int) -> None: ...

    def can_defer(self) -> bool: ...

    def add_deferred(self, directory: str, produce: Producer, basename_for: Callable[[str], str]) -> Descriptor:
        """A file under `directory` named basename_for(digest) once `produce` has made it."""
        ...


class DirDestination:
    """Files under a directory (an oci-dir export); blobs copied, by the kernel when it can."""

    def __init__(self, root: Path):
        self.root = root

    def add_bytes(self, name: str, data: bytes) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def add_file(self, name: str, path: Path, size: int) -> None:
        dest = self.root / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)  # copy_file_range/sendfile on Linux
        if dest.stat().st_size != size:
            raise OSError(f"{path} changed size while being exported")

    def can_defer(self) -> bool:
        return True

    def add_deferred(self, directory: str, produce: Producer, basename_for: Callable[[str], str]) -> Descriptor:
        folder = self.root / directory
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".partial-")
        try:
            with os.fdopen(fd, "wb") as out:
                desc = produce(out)
            os.replace(tmp, folder / basename_for(desc.digest))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return desc
