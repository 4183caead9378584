"""Read an archive tar member by member from a stream (a pipe is fine): the project's one
tar reader (layers.tarreader) under the names the archive code uses. Each regular file's
bytes go straight from the stream to the caller with readinto, never held in memory."""

from __future__ import annotations

from collections.abc import Iterator

from rootless_build.errors import LayerError
from rootless_build.layers.fileobj import ByteReader
from rootless_build.layers.tarreader import EntryContent as MemberReader
from rootless_build.layers.tarreader import TarEntry as Member
from rootless_build.layers.tarreader import read_entries

TarFormatError = LayerError  # the stream is not a tar archive, is corrupt, or ends early

__all__ = ["Member", "MemberReader", "TarFormatError", "members"]


def members(src: ByteReader) -> Iterator[tuple[Member, MemberReader]]:
    """(member, its content) in archive order; the content must be consumed (or is skipped)
    before the next member is read."""
    return read_entries(src, "archive")
