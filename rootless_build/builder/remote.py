"""ADD of an http(s) URL: the download, streamed to a temp file in the store and hashed on
the way, and the file tree COPY's planner reads it from.

As BuildKit does: the file is named after the URL path's last component (`__unnamed__`
when there is none), has mode 0600 (unless --chmod) and the Last-Modified time; the step
is cached on the content's digest, never on the URL. The server is asked every build,
conditionally when an earlier build saw an ETag or Last-Modified: a 304 answer gives the
digest without a transfer, and the file is fetched only if the step then misses the
cache. With `--checksum=sha256:...` the digest is known up front: no request at all
unless the step must be built.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from rootless_build.builder.fstree import DIR, FILE, Node
from rootless_build.errors import BuildError

URL_PREFIXES = ("http://", "https://")
GIT_PREFIXES = ("git@", "git://", "ssh://")
DOWNLOADS = "downloads"  # store records: URL -> validators and digest of its last download
FILE_MODE = 0o600
_ALGORITHMS = {"sha256": 64, "sha384": 96, "sha512": 128}
_CHUNK = 1 << 20
_TIMEOUT = (30, 300)  # connect, between bytes


def is_url(source: str) -> bool:
    return source.startswith(URL_PREFIXES)


def is_git(source: str) -> bool:
    """A git repository, as BuildKit tells them from files (an http URL ending in .git)."""
    return source.startswith(GIT_PREFIXES) or re.fullmatch(r"https?://[^#]+\.git(#.*)?", source) is not None


def url_filename(url: str) -> str:
    """The name the downloaded file gets: the URL path's last component (decoded)."""
    base = posixpath.basename(unquote(urlsplit(url).path).rstrip("/"))
    return base if base not in ("", ".", "..") else "__unnamed__"


def parse_checksum(text: str) -> tuple[str, str]:
    """`sha256:<hex>` (or sha384, sha512) -> (algorithm, lower-case hex)."""
    algorithm, _, value = text.partition(":")
    length = _ALGORITHMS.get(algorithm)
    if length is None or not re.fullmatch(f"[0-9a-fA-F]{{{length}}}", value):
        raise BuildError(f"invalid --checksum {text!r}: expected sha256:<64 hex digits> "
                         "(or sha384:, sha512:)")
    return algorithm, value.lower()


class DownloadError(BuildError):
    pass


@dataclass
class Download:
    url: str
    name: str
    digest: str  # sha256 of the content
    size: int = 0
    mtime_ns: int = 0
    path: Path | None = None  # None while only the digest is known (a 304, or --checksum)


class Downloader:
    """Downloads of one ADD step into `directory` (a temp dir in the store)."""

    def __init__(self, store, directory: Path, *, checksum: str | None, now_ns: int):
        self.store = store
        self.directory = directory
        self.checksum = parse_checksum(checksum) if checksum else None
        self.now_ns = now_ns
        self._count = 0
        self._session = None

    def probe(self, url: str) -> Download:
        """The URL's digest, fetching it only when that is the only way to know it."""
        name = url_filename(url)
        if self.checksum and self.checksum[0] == "sha256":
            return Download(url, name, f"sha256:{self.checksum[1]}", mtime_ns=self.now_ns)
        seen = self.store.get_record(DOWNLOADS, _record_key(url)) or {}
        validators = {}
        if seen.get("url") == url and seen.get("digest") and not self.checksum:  # a checksum needs the bytes
            if seen.get("etag"):
                validators["If-None-Match"] = seen["etag"]
            if seen.get("last_modified"):
                validators["If-Modified-Since"] = seen["last_modified"]
        got = self._get(url, validators)
        if got is None:  # 304: unchanged since the recorded download
            return Download(url, name, seen["digest"], int(seen.get("size", 0)),
                            int(seen.get("mtime_ns") or self.now_ns))
        return got

    def fetch(self, download: Download) -> Download:
        """`download` with its file present (downloaded now if it was only probed)."""
        if download.path is not None:
            return download
        got = self._get(download.url, {})
        assert got is not None
        return got

    def close(self) -> None:
        if self._session is not None:
            self._session.close()

    # -- one request -------------------------------------------------------------------

    def _get(self, url: str, validators: dict[str, str]) -> Download | None:
        import requests

        if self._session is None:
            self._session = requests.Session()
        headers = {"Accept-Encoding": "identity", **validators}
        try:
            with self._session.get(url, headers=headers, stream=True, timeout=_TIMEOUT) as resp:
                if resp.status_code == 304 and validators:
                    return None
                if resp.status_code != 200:
                    raise DownloadError(f"downloading {url}: HTTP {resp.status_code} {resp.reason or ''}".rstrip())
                download = self._save(url, resp)
        except requests.RequestException as e:
            raise DownloadError(f"downloading {url}: {_reason(e)}") from None
        return download

    def _save(self, url: str, resp) -> Download:
        self._count += 1
        path = self.directory / f"download-{self._count}"
        sha256 = hashlib.sha256()
        wanted = hashlib.new(self.checksum[0]) if self.checksum and self.checksum[0] != "sha256" else None
        size = 0
        with open(path, "wb") as out:
            for chunk in resp.iter_content(_CHUNK):
                out.write(chunk)
                sha256.update(chunk)
                if wanted is not None:
                    wanted.update(chunk)
                size += len(chunk)
        expected = resp.headers.get("Content-Length")
        if expected and expected.isdigit() and int(expected) != size and not resp.headers.get("Content-Encoding"):
            raise DownloadError(f"downloading {url}: the connection closed after {size} of {expected} bytes")
        digest = "sha256:" + sha256.hexdigest()
        if self.checksum:
            got = f"{self.checksum[0]}:{(wanted or sha256).hexdigest()}"
            if got != f"{self.checksum[0]}:{self.checksum[1]}":
                raise DownloadError(f"checksum mismatch for {url}: expected {self.checksum[0]}:{self.checksum[1]}, "
                                    f"got {got}")
        last_modified = resp.headers.get("Last-Modified")
        mtime_ns = _http_time_ns(last_modified) or self.now_ns
        os.chmod(path, FILE_MODE)
        os.utime(path, ns=(mtime_ns, mtime_ns))
        self.store.put_record(DOWNLOADS, _record_key(url), {
            "url": url, "digest": digest, "size": size, "mtime_ns": mtime_ns,
            "etag": resp.headers.get("ETag"), "last_modified": last_modified})
        return Download(url, url_filename(url), digest, size, mtime_ns, path)


def _record_key(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8", "surrogateescape")).hexdigest()


def _http_time_ns(text: str | None) -> int | None:
    if not text:
        return None
    try:
        return int(parsedate_to_datetime(text).timestamp()) * 1_000_000_000
    except (TypeError, ValueError, OverflowError):
        return None


def _reason(exc: BaseException) -> str:
    """The innermost cause of a requests failure, in a few words."""
    text = str(exc)
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__
        text = str(exc) or text
    lowered = text.lower()
    if "connection refused" in lowered:
        return "connection refused"
    if "name or service not known" in lowered or "temporary failure in name resolution" in lowered:
        return "cannot resolve the host name"
    if "timed out" in lowered:
        return "timed out"
    if "certificate verify failed" in lowered:
        return "TLS certificate not trusted"
    return text.splitlines()[0] if text else type(exc).__name__


class DownloadTree:
    """The downloads as a fstree.Tree: `<n>/<name>` is the n-th URL's file, mode 0600,
    owned by root, with its Last-Modified time. Each sits in its own directory so two
    URLs with one file name stay apart."""

    def __init__(self):
        self._files: list[Download] = []

    def add(self, download: Download) -> str:
        """Register a download; returns the source path the planner should copy."""
        self._files.append(download)
        escaped = re.sub(r"([\\*?\[])", r"\\\1", download.name)
        return f"{len(self._files) - 1}/{escaped}"

    def _download(self, path: str) -> tuple[int, Download] | None:
        index, _, name = path.partition("/")
        if not index.isdigit() or int(index) >= len(self._files):
            return None
        download = self._files[int(index)]
        return (int(index), download) if name in ("", download.name) else None

    def node(self, path: str) -> Node | None:
        if path == "":
            return Node(DIR, 0o755)
        found = self._download(path)
        if found is None:
            return None
        _, download = found
        if "/" not in path:
            return Node(DIR, 0o755)
        return Node(FILE, FILE_MODE, 0, 0, download.mtime_ns, download.size, loc=download)

    def listdir(self, path: str) -> list[str]:
        if path == "":
            return [str(i) for i in range(len(self._files))]
        found = self._download(path)
        return [found[1].name] if found is not None and "/" not in path else []

    def open(self, path: str, node: Node) -> BinaryIO:
        download: Download = node.loc
        if download.path is None:
            raise BuildError(f"{download.url} has not been downloaded")
        return open(download.path, "rb")

    def known_digest(self, path: str, node: Node) -> str | None:
        return node.loc.digest

    def remember_digest(self, path: str, node: Node, digest: str) -> None:
        pass

    def readlink(self, path: str, node: Node) -> str:
        return ""
