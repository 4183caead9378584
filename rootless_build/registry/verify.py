"""What a pull lets into the store: the config, fetched into memory (bounded) and checked
against its digest before it is validated, and each layer's uncompressed content checked
against the config's diff_id (while it downloads) before the layer becomes a blob. A
compressed blob's diff_id is noted once checked, so later pulls sharing the layer need not
decompress it again."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import requests
import urllib3

from rootless_build.errors import RegistryError
from rootless_build.layers.compression import READ_SIZE, open_uncompressed
from rootless_build.layers.diffid import uncompressed_digest
from rootless_build.oci import digest as dg
from rootless_build.oci import validate
from rootless_build.oci.models import Descriptor
from rootless_build.registry.client import Repository
from rootless_build.registry.errors import from_exception
from rootless_build.registry.limits import MAX_CONFIG, read_limited
from rootless_build.store import Store
from rootless_build.store.roots import DIFF_ID

_DROPPED = (urllib3.exceptions.HTTPError, requests.RequestException, OSError)


def fetch_config(store: Store, repo: Repository, desc: Descriptor, image: str) -> bytes:
    """The config's bytes: from the store when it has them, else from the registry."""
    if store.blobs.has(desc.digest):
        return store.blobs.read(desc.digest)
    what = f"fetching config {desc.digest} of {image}"
    if desc.size > MAX_CONFIG:
        raise RegistryError(f"{what}: the manifest says {desc.size} bytes, more than the limit of {MAX_CONFIG}")
    backoff = repo.transport.backoff
    attempt = 0
    while True:
        attempt += 1
        resp = repo.open_blob(desc.digest)
        try:
            with resp:
                body = read_limited(resp, desc.size, what)
            break
        except _DROPPED as e:
            if attempt >= backoff.attempts:
                raise from_exception(e, what) from None
            backoff.sleep(attempt)
    actual = dg.of_bytes(body)
    if actual != desc.digest or len(body) != desc.size:
        raise RegistryError(f"{what}: digest mismatch: the registry sent {len(body)} bytes with digest {actual}",
                            code="DIGEST_INVALID")
    return body


def known_diff_id(store: Store, desc: Descriptor) -> str:
    """The diff_id of a layer blob the store already holds (noted, or computed and noted)."""
    record = store.get_record(DIFF_ID, desc.digest)
    if record and isinstance(record.get("diff_id"), str):
        return record["diff_id"]
    actual = uncompressed_digest(store.blobs.path(desc.digest), desc.digest)
    note_diff_id(store, desc.digest, actual)
    return actual


def note_diff_id(store: Store, digest: str, diff_id: str) -> None:
    if digest != diff_id:  # an uncompressed blob is its own diff_id: nothing to note
        store.put_record(DIFF_ID, digest, {"diff_id": diff_id}, durable=False)


class DiffIdStream:
    """The diff_id check of a layer as it downloads: every byte written to the temp blob is
    also piped to a thread that uncompresses it with the decoders extraction uses and
    hashes the result, so checking costs no second pass (it overlaps the transfer).
    download_blob calls feed/restart, `check` at commit, and `close` always."""

    def __init__(self, n: int, expected: str, image: str, desc: Descriptor):
        self._n, self._expected, self._image, self._desc = n, expected, image, desc
        self._start()

    def _start(self) -> None:
        read_fd, self._write_fd = os.pipe()
        self._source = open(read_fd, "rb", buffering=READ_SIZE)
        self._result: str | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="diff-id", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            hasher = dg.Hasher()
            with open_uncompressed(self._source) as content:
                while chunk := content.read(READ_SIZE):
                    hasher.update(chunk)
            while self._source.read(READ_SIZE):  # bytes after the stream: drain, never block the writer
                pass
            self._result = hasher.digest()
        except BaseException as e:  # noqa: BLE001 - reported by check()
            self._error = e
        finally:
            self._source.close()  # a writer still feeding gets EPIPE, not a hang

    def feed(self, data) -> None:
        view = memoryview(data).cast("B")
        try:
            while view:
                view = view[os.write(self._write_fd, view):]
        except BrokenPipeError:
            pass  # the decoder stopped on an error: check() reports it

    def restart(self) -> None:
        """The blob starts again from its first byte (the server ignored a Range request)."""
        self.close()
        self._start()

    def check(self, path: Path, digest: str) -> None:
        self._finish()
        if self._error is not None:
            raise validate.LayerMismatch(f"{self._image}: layer {self._n + 1} ({digest}) cannot be "
                                         f"uncompressed: {self._error}")
        validate.diff_id(self._n, self._result or "", self._expected, self._image, self._desc)

    def _finish(self) -> None:
        if self._write_fd >= 0:
            os.close(self._write_fd)
            self._write_fd = -1
        self._thread.join()

    def close(self) -> None:
        self._finish()
