"""`build -`: the context comes on stdin, as docker takes it: a tar (plain, gzip, zstd,
bzip2 or xz) of the context, or a lone Dockerfile (then the context is empty).

It lands in a private temporary directory: `context/` (the tar, extracted with the layer
extractor's safety: nothing outside the target, no device nodes) and, for a lone
Dockerfile, `Dockerfile` beside it. The directory's path is put in RB_STDIN_CONTEXT so that
the same command, run again inside the user namespace (stdin already read), finds it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from rootless_build.errors import LayerError, UsageError
from rootless_build.record import Record

STDIN_ENV = "RB_STDIN_CONTEXT"
_BZIP2 = b"BZh"
_XZ = b"\xfd7zXZ\x00"
_TAR_MAGIC_AT = 257  # "ustar" in a tar header


class StdinContext(Record, frozen=True):
    top: Path  # the temporary directory (removed by whoever received it)
    context: Path
    dockerfile: Path | None  # a lone Dockerfile's copy; None: the tar's own Dockerfile
    owned: bool  # this process read stdin and removes `top` when done

    def remove(self) -> None:
        if self.owned:
            _remove_tree(self.top)


def stdin_context(stream: BinaryIO) -> StdinContext:
    """What `build -` builds from: received now, or by the process that re-executed us."""
    known = os.environ.get(STDIN_ENV)
    if known:
        top = Path(known)
        dockerfile = top / "Dockerfile"
        return StdinContext(top, top / "context", dockerfile if dockerfile.is_file() else None, False)
    top = Path(tempfile.mkdtemp(prefix="rootless-build-stdin-"))
    try:
        received = _receive(stream, top)
    except BaseException:
        _remove_tree(top)
        raise
    os.environ[STDIN_ENV] = str(top)
    return received


def _receive(stream: BinaryIO, top: Path) -> StdinContext:
    context = top / "context"
    context.mkdir()
    head = _peek(stream, 512)
    if _is_archive(head):
        from rootless_build.layers.extract import extract_layer

        try:
            extract_layer(_decompressed(stream, head), context, mode="apply", skip_devices=True)
        except LayerError as e:
            raise UsageError(f"build context on stdin: {e}") from None
        return StdinContext(top, context, None, True)
    dockerfile = top / "Dockerfile"
    with open(dockerfile, "wb") as out:
        shutil.copyfileobj(stream, out)
    return StdinContext(top, context, dockerfile, True)


def _peek(stream: BinaryIO, size: int) -> bytes:
    if hasattr(stream, "peek"):
        head = stream.peek(size)[:size]
        while len(head) < size:  # a pipe may hold less than asked for: look again
            more = stream.peek(size)
            if len(more) <= len(head):
                break
            head = more[:size]
        return head
    raise UsageError("stdin cannot be peeked")


def _is_archive(head: bytes) -> bool:
    from rootless_build.layers.compression import sniff

    return bool(sniff(head)) or head.startswith((_BZIP2, _XZ)) or head[_TAR_MAGIC_AT:_TAR_MAGIC_AT + 5] == b"ustar"


def _decompressed(stream: BinaryIO, head: bytes) -> BinaryIO:
    """bzip2 and xz here; gzip, zstd and plain tars are the extractor's own business."""
    if head.startswith(_BZIP2):
        import bz2

        return bz2.open(stream, "rb")  # type: ignore[return-value]
    if head.startswith(_XZ):
        import lzma

        return lzma.open(stream, "rb")  # type: ignore[return-value]
    return stream


def _remove_tree(top: Path) -> None:
    """rmtree, making directories usable first (a tar may hold read-only ones)."""
    for directory, dirs, _ in os.walk(top):  # top-down: a child is opened after this chmod
        for name in dirs:
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                os.chmod(path, 0o700)
    shutil.rmtree(top, ignore_errors=True)
