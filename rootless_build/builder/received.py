"""Build contexts that are not a local directory, as docker takes them: `build -` (a tar of
the context, plain, gzip, zstd, bzip2 or xz, or a lone Dockerfile on stdin), `build URL`
and `--build-context NAME=URL` (a git repository `URL[#REF[:SUBDIR]]`, or an http(s) URL of
a tar, or of a lone Dockerfile).

Each lands in a private temporary directory: `context/` (a tar is extracted with the layer
extractor's safety: nothing outside the target, no device nodes; a repository is fetched at
the commit its ref names) and, for a lone Dockerfile, `Dockerfile` beside it. The paths go
in the environment (RB_RECEIVED_CONTEXT, RB_BUILD_CONTEXTS) so that the same command,
run again inside the user namespace, finds them instead of reading stdin or the network
again; the process that received them removes them when it ends.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from rootless_build.errors import LayerError, UsageError
from rootless_build.record import Record

RECEIVED_ENV = "RB_RECEIVED_CONTEXT"
NAMED_ENV = "RB_BUILD_CONTEXTS"
_BZIP2 = b"BZh"
_XZ = b"\xfd7zXZ\x00"
_TAR_MAGIC_AT = 257  # "ustar" in a tar header


class ReceivedContext(Record, frozen=True):
    top: Path  # the temporary directory (removed by whoever received it)
    context: Path
    dockerfile: Path | None  # a lone Dockerfile's copy; None: the tar's own Dockerfile
    owned: bool  # this process read stdin and removes `top` when done

    def remove(self) -> None:
        if self.owned:
            _remove_tree(self.top)


def received_context(source: str, stream: BinaryIO) -> ReceivedContext:
    """The build's context from stdin (`-`) or a URL: received now, or by the process that
    re-executed us."""
    known = os.environ.get(RECEIVED_ENV)
    if known:
        return _reopen(Path(known))
    received = _received(lambda top: _receive(stream, top) if source == "-" else _from_url(source, top))
    os.environ[RECEIVED_ENV] = str(received.top)
    return received


def named_contexts(urls: dict[str, str]) -> tuple[dict[str, str], list[ReceivedContext]]:
    """{name: directory} for --build-context NAME=URL, and what to remove afterwards."""
    known = os.environ.get(NAMED_ENV)
    if known:
        return dict(json.loads(known)), []
    received: list[ReceivedContext] = []
    try:
        for url in urls.values():
            received.append(_received(lambda top, url=url: _from_url(url, top)))
    except BaseException:
        for item in received:
            item.remove()
        raise
    directories = {name: str(item.context) for name, item in zip(urls, received, strict=False)}
    for name, item in zip(urls, received, strict=False):
        if item.dockerfile is not None:
            item.remove()
            raise UsageError(f"--build-context {name}={urls[name]}: not a tar archive or a git repository")
    os.environ[NAMED_ENV] = json.dumps(directories)
    return directories, received


def _reopen(top: Path) -> ReceivedContext:
    dockerfile = top / "Dockerfile"
    return ReceivedContext(top, top / "context", dockerfile if dockerfile.is_file() else None, False)


def _received(receive) -> ReceivedContext:
    top = Path(tempfile.mkdtemp(prefix="rootless-build-context-"))
    try:
        return receive(top)
    except BaseException:
        _remove_tree(top)
        raise


def _from_url(url: str, top: Path) -> ReceivedContext:
    from rootless_build.builder.remote import is_git

    if is_git(url):
        from rootless_build.builder import gitsource

        source = gitsource.parse_git(url)
        directory = top / "repo"
        tree = gitsource.checkout(source, gitsource.resolve(source), directory, keep_git_dir=False)
        context = top / "context"
        os.rename(tree, context)  # the subdir (or the whole checkout) becomes the context
        return ReceivedContext(top, context, None, True)
    import io

    import requests

    try:
        response = requests.get(url, stream=True, timeout=(30, 300))
        response.raise_for_status()
    except requests.RequestException as e:
        raise UsageError(f"build context {url}: {e}") from None
    with response:
        response.raw.decode_content = False
        response.raw.auto_close = False  # EOF must read as b"", not as a closed file
        return _receive(io.BufferedReader(response.raw, 1 << 20), top, f"build context {url}")


def _receive(stream: BinaryIO, top: Path, what: str = "build context on stdin") -> ReceivedContext:
    context = top / "context"
    context.mkdir()
    head = _peek(stream, 512)
    if _is_archive(head):
        from rootless_build.layers.extract import extract_layer

        try:
            extract_layer(_decompressed(stream, head), context, mode="apply", skip_devices=True)
        except LayerError as e:
            raise UsageError(f"{what}: {e}") from None
        return ReceivedContext(top, context, None, True)
    dockerfile = top / "Dockerfile"
    with open(dockerfile, "wb") as out:
        shutil.copyfileobj(stream, out)
    return ReceivedContext(top, context, dockerfile, True)


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
