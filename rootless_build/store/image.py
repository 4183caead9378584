"""An image as the store holds it: its manifest's digest, raw manifest and config bytes and
its tags; every field derived from them (ID, layers, diff_ids, created, the parsed
documents) comes from oci/partial.py, computed once."""

from __future__ import annotations

from rootless_build.oci.partial import Derived
from rootless_build.record import Record


class Image(Derived, Record, frozen=True):
    manifest_digest: str
    manifest_bytes: bytes
    config_bytes: bytes
    tags: tuple[str, ...] = ()
