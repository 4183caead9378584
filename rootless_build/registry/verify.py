"""What a pull lets into the store: the config, fetched into memory (bounded) and checked
against its digest before it is validated, and each layer's uncompressed content checked
against the config's diff_id before the layer becomes a blob. A compressed blob's diff_id
is noted once checked, so later pulls sharing the layer need not decompress it again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import requests
import urllib3

from rootless_build.errors import RegistryError
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
        store.put_record(DIFF_ID, digest, {"diff_id": diff_id})


def layer_check(n: int, expected: str, image: str, desc: Descriptor) -> Callable[[Path, str], None]:
    """For BlobWriter.commit: refuse a downloaded layer whose content is not `expected`."""

    def check(path: Path, digest: str) -> None:
        validate.diff_id(n, uncompressed_digest(path, digest), expected, image, desc)

    return check
