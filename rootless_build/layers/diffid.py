"""The diff_id of a layer blob: sha256 of its uncompressed tar, read through the same
decoders that extraction uses (so what is checked is what gets unpacked)."""

from __future__ import annotations

import os

from rootless_build.layers.compression import READ_SIZE, open_uncompressed, sniff


def uncompressed_digest(path: str | os.PathLike[str], blob_digest: str | None = None) -> str:
    """sha256 of the uncompressed content of the blob at `path`. For a plain tar that is
    the blob's own digest: pass it as `blob_digest` to spare a second read."""
    with open(path, "rb") as f:
        plain = not sniff(f.peek(4)[:4])
        if plain and blob_digest:
            return blob_digest
        import hashlib  # layers/ sits below oci/: no oci.digest here

        hasher = hashlib.sha256()
        with open_uncompressed(f) as content:
            while chunk := content.read(READ_SIZE):
                hasher.update(chunk)
    return "sha256:" + hasher.hexdigest()
