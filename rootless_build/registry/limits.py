"""Bounded reads of registry answers: a hostile or broken registry must not make us hold an
endless body in memory. Content-Length is checked first, then bytes are counted as they
arrive (after any Content-Encoding is undone, so a gzip bomb counts at its real size)."""

from __future__ import annotations

import requests

from rootless_build.errors import RegistryError

MAX_MANIFEST = 4 << 20      # manifests and indexes: the distribution spec lets registries refuse bigger
MAX_CONFIG = 16 << 20       # image configs (read into memory to be validated)
MAX_TOKEN = 1 << 20         # token server answers, as containers/image
MAX_JSON = 16 << 20         # other JSON answers (tag lists, catalog pages)
MAX_ERROR = 64 << 10        # what we read of an error answer to find its message
_CHUNK = 64 << 10


def read_limited(resp: requests.Response, limit: int, what: str) -> bytes:
    """The body of a streamed response, or RegistryError when it is larger than `limit`.
    Afterwards resp.content and resp.json() work as for an unstreamed response."""
    declared = resp.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        resp.close()
        raise RegistryError(f"{what}: the answer is {declared} bytes, more than the limit of {limit}")
    chunks: list[bytes] = []
    total = 0
    for chunk in resp.iter_content(_CHUNK):
        total += len(chunk)
        if total > limit:
            resp.close()
            raise RegistryError(f"{what}: the answer is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return _settle(resp, b"".join(chunks))


def read_prefix(resp: requests.Response, limit: int = MAX_ERROR) -> bytes:
    """At most `limit` bytes of a streamed body (an error's message), the rest dropped
    with the connection; never raises."""
    chunks: list[bytes] = []
    total = 0
    try:
        for chunk in resp.iter_content(_CHUNK):
            chunks.append(chunk)
            total += len(chunk)
            if total >= limit:
                resp.close()
                break
    except (requests.RequestException, OSError):
        resp.close()
    return _settle(resp, b"".join(chunks)[:limit])


def _settle(resp: requests.Response, body: bytes) -> bytes:
    resp._content = body  # what requests itself stores after reading a whole body
    resp._content_consumed = True
    return body
