"""Images made by hand and pushed with plain HTTP calls (requests): the documents are
exactly what the test wrote, however wrong, as a hostile registry would serve them."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile

import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def config_doc(diff_ids: list[str], **container) -> dict:
    return {"architecture": "amd64", "os": "linux", "created": "2024-01-02T03:04:05Z",
            "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"], **container},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": "test"} for _ in diff_ids]}


def descriptor(media_type: str, data: bytes) -> dict:
    return {"mediaType": media_type, "digest": digest(data), "size": len(data)}


def manifest_doc(config: bytes, layers: list[bytes]) -> dict:
    return {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config),
            "layers": [descriptor(OCI_LAYER_GZIP, layer) for layer in layers]}


def encode(doc) -> bytes:
    return doc if isinstance(doc, bytes) else json.dumps(doc).encode()


class Pusher:
    """Blobs and manifests into REGISTRY/REPO over plain HTTP, as the distribution API has it."""

    def __init__(self, registry: str, repo: str):
        self.base = f"http://{registry}"
        self.repo = repo
        self.http = requests.Session()

    def blob(self, data: bytes) -> str:
        resp = self.http.post(f"{self.base}/v2/{self.repo}/blobs/uploads/")
        resp.raise_for_status()
        location = resp.headers["Location"]
        if not location.startswith("http"):
            location = self.base + location
        resp = self.http.put(location, params={"digest": digest(data)}, data=data,
                             headers={"Content-Type": "application/octet-stream"})
        assert resp.status_code == 201, resp.text
        return digest(data)

    def manifest(self, reference: str, raw: bytes, media_type: str = OCI_MANIFEST) -> str:
        resp = self.http.put(f"{self.base}/v2/{self.repo}/manifests/{reference}", data=raw,
                             headers={"Content-Type": media_type})
        assert resp.status_code == 201, resp.text
        return digest(raw)

    def image(self, tag: str, config: bytes, layers: list[bytes]) -> str:
        """Push the blobs and a manifest over them; the manifest's raw bytes' digest."""
        for blob in (config, *layers):
            self.blob(blob)
        return self.manifest(tag, encode(manifest_doc(config, layers)))
