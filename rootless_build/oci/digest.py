"""Digests: parsing, computing over exact bytes, and chain ids."""

from __future__ import annotations

import re

from rootless_build.errors import RootlessBuildError

try:  # CPython's own sha256 for the small documents: OpenSSL (hashlib) loads in ~3 ms, a
    # tenth of what a build that finds every step cached spends in Python. `_sha2` from 3.12.
    from _sha256 import sha256 as _document_sha256  # type: ignore[import-not-found]
except ImportError:
    try:
        from _sha2 import sha256 as _document_sha256  # type: ignore[import-not-found]
    except ImportError:
        from hashlib import sha256 as _document_sha256

_DIGEST_RE = re.compile(r"^(sha256):([a-f0-9]{64})$|^(sha512):([a-f0-9]{128})$")


class InvalidDigest(RootlessBuildError):
    pass


def parse(digest: str) -> tuple[str, str]:
    """Split 'sha256:hex' into (algorithm, hex), refusing anything malformed."""
    m = _DIGEST_RE.match(digest or "")
    if not m:
        raise InvalidDigest(f"invalid digest {digest!r}")
    algo = m.group(1) or m.group(3)
    hexpart = m.group(2) or m.group(4)
    return algo, hexpart


def is_digest(text: str) -> bool:
    return bool(_DIGEST_RE.match(text or ""))


def of_bytes(data: bytes) -> str:
    """The digest of a document (manifest, config, index): small bytes held in memory.
    Streams (layers, blobs) go through Hasher, which uses OpenSSL's faster sha256."""
    hexdigest: str = _document_sha256(data).hexdigest()
    return "sha256:" + hexdigest


def short_id(digest: str, length: int = 12) -> str:
    """The short form docker shows: the first 12 hex characters."""
    return digest.split(":", 1)[-1][:length]


def chain_ids(diff_ids: list[str]) -> list[str]:
    """ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))."""
    out: list[str] = []
    for diff_id in diff_ids:
        out.append(diff_id if not out else of_bytes(f"{out[-1]} {diff_id}".encode()))
    return out


class Hasher:
    """A sha256 that also counts bytes: feed it what you write or read."""

    __slots__ = ("_h", "size")

    def __init__(self) -> None:
        import hashlib

        self._h = hashlib.sha256()
        self.size = 0

    def update(self, data: bytes | memoryview) -> None:
        self._h.update(data)
        self.size += len(data)

    def digest(self) -> str:
        return "sha256:" + self._h.hexdigest()
