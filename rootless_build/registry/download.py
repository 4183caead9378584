"""One blob from a registry into the store: streamed to a temp file, resumed with a Range
request after a dropped connection, verified (digest and size) before it becomes a blob."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

import requests
import urllib3

from rootless_build.errors import BlobCorrupt, RegistryError
from rootless_build.oci.models import Descriptor
from rootless_build.registry.client import Repository
from rootless_build.registry.errors import from_exception
from rootless_build.registry.progress import Progress
from rootless_build.registry.retry import Backoff
from rootless_build.store import Store

CHUNK = 1 << 20
_DROPPED = (urllib3.exceptions.HTTPError, requests.RequestException, OSError)


class ContentCheck(Protocol):
    """Watches a blob's bytes as they are written (in order) and judges them at commit."""

    def feed(self, data: bytes) -> None: ...
    def restart(self) -> None: ...
    def check(self, path: Path, digest: str) -> None: ...
    def close(self) -> None: ...


class Cancelled(Exception):
    """Another download of the same pull failed: stop early (never shown to users)."""


def download_blob(repo: Repository, store: Store, desc: Descriptor, *, progress: Progress, key: str,
                  backoff: Backoff, cancel: threading.Event | None = None,
                  content: ContentCheck | None = None) -> None:
    """`content` sees every byte written and may refuse the blob once its digest and size
    are right, before it becomes a blob (pull checks a layer against its diff_id so); its
    creator closes it."""
    what = f"fetching blob {desc.digest} from {repo.display}"
    writer = store.blobs.writer(desc.digest, desc.size, what=f"storing blob {desc.digest}")
    drops = 0
    try:
        while True:
            offset = writer.size
            resp = repo.open_blob(desc.digest, offset)
            try:
                if offset and resp.status_code != 206:
                    # The server ignored the Range header: start the blob again from byte 0.
                    writer.abort()
                    writer = store.blobs.writer(desc.digest, desc.size, what=f"storing blob {desc.digest}")
                    if content is not None:
                        content.restart()
                    progress.reset(key, 0)
                before = writer.size
                try:
                    _copy(resp, writer, content, desc, progress, key, what, cancel)
                except _DROPPED as e:
                    err = from_exception(e, what)
                else:
                    if writer.size == desc.size:
                        break
                    err = RegistryError(f"{what}: connection closed after {writer.size} of {desc.size} bytes",
                                        code="CONNECTION", temporary=True)
            finally:
                resp.close()
            drops = 0 if writer.size > before else drops + 1  # progress made: keep going
            if drops >= backoff.attempts:
                raise err
            backoff.sleep(max(drops, 1))
        progress.item(key, "Verifying Checksum")
        try:
            writer.commit(content.check if content is not None else None)
        except BlobCorrupt as e:
            raise RegistryError(f"{what}: {e}; the blob was not stored", code="DIGEST_INVALID") from None
    finally:
        if writer.digest is None:
            writer.abort()


def _copy(resp, writer, content: ContentCheck | None, desc: Descriptor, progress: Progress, key: str, what: str,
          cancel: threading.Event | None) -> None:
    # read1: whatever has arrived (up to 1 MiB), so a cancel is seen even on a slow link.
    while chunk := resp.raw.read1(CHUNK, decode_content=False):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        writer.write(chunk)
        if content is not None:
            content.feed(chunk)
        progress.advance(key, len(chunk))
        if writer.size > desc.size:
            raise RegistryError(f"{what}: the registry sent more than the {desc.size} bytes the manifest lists",
                                code="SIZE_INVALID")
