"""The distribution API for one repository: manifests, blobs, uploads, tags."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests

from rootless_build.oci import digest as dg
from rootless_build.oci import mediatypes as mt
from rootless_build.registry.errors import RegistryError
from rootless_build.registry.limits import MAX_MANIFEST
from rootless_build.registry.transport import Transport

MANIFEST_ACCEPT = ", ".join([mt.OCI_INDEX, mt.OCI_MANIFEST, mt.DOCKER_MANIFEST_LIST, mt.DOCKER_MANIFEST])


class Repository:
    """`name` is the repository path on this registry ("library/busybox")."""

    def __init__(self, transport: Transport, name: str, *, push: bool = False):
        self.transport = transport
        self.name = name
        transport.auth.add_scope(name, "pull,push" if push else "pull")

    @property
    def display(self) -> str:
        return f"{self.transport.host}/{self.name}"

    # -- manifests ------------------------------------------------------------------------

    def get_manifest(self, reference: str) -> tuple[bytes, str, str]:
        """(raw bytes, media type, digest of the bytes) for a tag or digest."""
        what = f"reading manifest {reference} in {self.display}"
        resp = self.transport.request("GET", f"/v2/{self.name}/manifests/{reference}", what=what,
                                      headers={"Accept": MANIFEST_ACCEPT}, limit=MAX_MANIFEST)
        raw = resp.content  # read (bounded) inside the retried request: a dropped body is tried again
        digest = dg.of_bytes(raw)
        if dg.is_digest(reference) and digest != reference:
            raise RegistryError(f"{what}: the registry sent a manifest with digest {digest}")
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        return raw, media_type, digest

    def head_manifest(self, reference: str) -> str | None:
        """The digest a tag points to now (Docker-Content-Digest), None if unknown."""
        what = f"checking manifest {reference} in {self.display}"
        resp = self.transport.request("HEAD", f"/v2/{self.name}/manifests/{reference}", what=what,
                                      ok=(200, 404), headers={"Accept": MANIFEST_ACCEPT})
        return resp.headers.get("Docker-Content-Digest") if resp.status_code == 200 else None

    def put_manifest(self, reference: str, raw: bytes, media_type: str) -> str:
        what = f"pushing manifest {reference} to {self.display}"
        resp = self.transport.request("PUT", f"/v2/{self.name}/manifests/{reference}", what=what,
                                      ok=(200, 201, 202), headers={"Content-Type": media_type}, body=raw)
        resp.close()
        return resp.headers.get("Docker-Content-Digest") or dg.of_bytes(raw)

    # -- blobs -----------------------------------------------------------------------------

    def has_blob(self, digest: str) -> bool:
        resp = self.transport.request("HEAD", f"/v2/{self.name}/blobs/{digest}", ok=(200, 404),
                                      what=f"checking blob {digest} in {self.display}")
        return resp.status_code == 200

    def open_blob(self, digest: str, offset: int = 0) -> requests.Response:
        """A streaming response for a blob, from `offset` on (206) when offset > 0."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        # The caller resumes dropped bodies itself; connect errors and 5xx are retried here.
        return self.transport.request("GET", f"/v2/{self.name}/blobs/{digest}", what=f"fetching blob {digest}",
                                      ok=(200, 206), headers=headers, stream=True)

    def read_small_blob(self, digest: object, size: object, limit: int, what: str) -> bytes:
        """A small blob (a signature's payload, an attestation) read whole and checked
        against its descriptor: the size within `limit`, the bytes against the digest."""
        if not isinstance(digest, str) or not dg.is_digest(digest) or not isinstance(size, int) \
                or not 0 <= size <= limit:
            raise RegistryError(f"{self.display}: malformed {what} descriptor {digest!r}")
        resp = self.open_blob(digest)
        try:
            data: bytes = resp.raw.read(size + 1, decode_content=True)
        finally:
            resp.close()
        if len(data) != size or dg.of_bytes(data) != digest:
            raise RegistryError(f"{self.display}: {what} {digest} does not match its digest")
        return data

    # -- uploads ------------------------------------------------------------------------------

    def start_upload(self, mount: str | None = None, source: str | None = None) -> str | None:
        """An upload session's URL; None when the blob was mounted from `source` instead."""
        params = {"mount": mount, "from": source} if mount and source else None
        if params:
            self.transport.auth.add_scope(source, "pull")
        resp = self.transport.request("POST", f"/v2/{self.name}/blobs/uploads/", params=params, ok=(201, 202),
                                      what=f"starting an upload to {self.display}", body=b"")
        resp.close()
        if resp.status_code == 201:
            return None
        return self._location(resp)

    def upload_status(self, location: str) -> int:
        """How many bytes the registry holds for an upload session."""
        resp = self.transport.request("GET", location, ok=(204,), what=f"checking an upload to {self.display}")
        resp.close()
        end = resp.headers.get("Range", "").rpartition("-")[2]
        return int(end) + 1 if end.isdigit() else 0

    def patch_chunk(self, location: str, body, start: int, length: int) -> str:
        """Send bytes [start, start+length) of a chunked upload; returns the next URL."""
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(length),
                   "Content-Range": f"{start}-{start + length - 1}"}
        resp = self.transport.request("PATCH", location, ok=(202,), headers=headers, body=body, retry=False,
                                      what=f"uploading to {self.display}")
        resp.close()
        return self._location(resp)

    def finish_upload(self, location: str, digest: str, body=None, length: int = 0) -> None:
        """Close an upload session with the blob's digest (and its bytes when monolithic)."""
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(length)}
        resp = self.transport.request("PUT", _with_query(location, digest=digest), ok=(201, 204),
                                      headers=headers, body=body if body is not None else b"", retry=False,
                                      what=f"uploading blob {digest} to {self.display}")
        resp.close()

    def _location(self, resp: requests.Response) -> str:
        location = resp.headers.get("Location")
        if not location:
            raise RegistryError(f"{self.display}: upload answer without a Location header")
        return urljoin(resp.url, location)

    # -- tags ----------------------------------------------------------------------------------

    def tags(self, page_size: int = 1000) -> list[str]:
        out: list[str] = []
        for page in paginate(self.transport, f"/v2/{self.name}/tags/list", {"n": str(page_size)},
                             what=f"listing tags of {self.display}"):
            out.extend(page.get("tags") or [])
        return out


def paginate(transport: Transport, path: str, params: dict[str, str] | None, *, what: str):
    """Each JSON page of a listing, following `Link: <...>; rel="next"` headers."""
    url: str | None = path
    while url:
        resp = transport.request("GET", url, params=params, what=what)
        try:
            yield resp.json()
        except ValueError:
            raise RegistryError(f"{what}: the registry's answer is not JSON") from None
        nxt = resp.links.get("next", {}).get("url")
        url = urljoin(resp.url, nxt) if nxt else None
        params = None  # the next link carries its own query


def _with_query(url: str, **extra: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(extra.items())
    return urlunsplit(parts._replace(query=urlencode(query)))

