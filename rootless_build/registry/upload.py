"""One blob from the store to a registry: skipped when the registry has it, mounted from a
sibling repository when one is known to hold it, else uploaded in one PUT (monolithic) or
in PATCH chunks, retried on temporary failures."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from rootless_build.errors import RegistryError
from rootless_build.oci.models import Descriptor
from rootless_build.registry.client import Repository
from rootless_build.registry.progress import Progress

CHUNK = 1 << 20


class Cancelled(Exception):
    """Another upload of the same push failed, or the user pressed Ctrl-C: stop sending."""


class FileBody:
    """Bytes [offset, offset+length) of a file as a request body: sized (Content-Length,
    never chunked transfer encoding), read in 1 MiB pieces, progress reported per piece."""

    def __init__(self, path: Path, offset: int, length: int, on_read: Callable[[int], None],
                 cancel: threading.Event | None = None):
        self.path, self.offset, self.length, self.on_read = path, offset, length, on_read
        self.cancel = cancel

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[bytes]:
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            remaining = self.length
            while remaining:
                if self.cancel is not None and self.cancel.is_set():
                    raise Cancelled()
                chunk = f.read(min(CHUNK, remaining))
                if not chunk:
                    raise RegistryError(f"{self.path} is shorter than expected; the store is damaged (run fsck)")
                remaining -= len(chunk)
                self.on_read(len(chunk))
                yield chunk


def upload_blob(repo: Repository, path: Path, desc: Descriptor, *, progress: Progress, key: str,
                mount_from: list[str], chunk_size: int | None = None,
                cancel: threading.Event | None = None) -> str:
    """Make the registry hold `desc`; returns the status docker would print."""
    if repo.has_blob(desc.digest):
        return "Layer already exists"
    location = None
    for source in mount_from:
        if source == repo.name:
            continue
        location = repo.start_upload(mount=desc.digest, source=source)
        if location is None:
            return f"Mounted from {source}"
        break  # mount refused: the registry opened an ordinary upload session instead
    progress.item(key, "Pushing", desc.size)
    if chunk_size and desc.size > chunk_size:
        _chunked(repo, path, desc, progress, key, chunk_size, location, cancel)
    else:
        _monolithic(repo, path, desc, progress, key, location, cancel)
    return "Pushed"


def _monolithic(repo: Repository, path: Path, desc: Descriptor, progress: Progress, key: str,
                location: str | None, cancel: threading.Event | None) -> None:
    backoff = repo.transport.backoff
    for attempt in range(1, backoff.attempts + 1):
        try:
            location = location or repo.start_upload()
            body = FileBody(path, 0, desc.size, lambda n: progress.advance(key, n), cancel)
            repo.finish_upload(location, desc.digest, body=body, length=desc.size)
            return
        except RegistryError as e:
            if not e.temporary or attempt == backoff.attempts:
                raise
            location = None  # a failed session cannot take a second PUT: open a new one
            progress.reset(key, 0)
            backoff.sleep(attempt)


def _chunked(repo: Repository, path: Path, desc: Descriptor, progress: Progress, key: str, chunk_size: int,
             location: str | None, cancel: threading.Event | None) -> None:
    backoff = repo.transport.backoff
    location = location or repo.start_upload()
    offset, failures = 0, 0
    while offset < desc.size:
        length = min(chunk_size, desc.size - offset)
        body = FileBody(path, offset, length, lambda n: progress.advance(key, n), cancel)
        try:
            location = repo.patch_chunk(location, body, offset, length)
            offset += length
            failures = 0
            continue
        except RegistryError as e:
            failures += 1
            if not e.temporary or failures >= backoff.attempts:
                raise
        backoff.sleep(failures)
        offset, location = _resume_point(repo, location, offset)
        progress.reset(key, offset)
    repo.finish_upload(location, desc.digest)


def _resume_point(repo: Repository, location: str, offset: int) -> tuple[int, str]:
    """Where to go on after a failed chunk: the same offset when the registry kept nothing
    of it, else a fresh session from 0 (a partly received chunk cannot be resumed)."""
    try:
        if repo.upload_status(location) == offset:
            return offset, location
    except RegistryError:
        pass
    return 0, repo.start_upload()


def blob_path(store_blobs, digest: str) -> Path:
    path = store_blobs.path(digest)
    if not os.path.exists(path):
        raise RegistryError(f"blob {digest} is missing from the store (run `rootless-build fsck`)")
    return path
