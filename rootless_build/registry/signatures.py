"""Signatures stored the way podman and skopeo store them, read and written next to a
registry: sigstore attachments (an OCI manifest under the tag `sha256-<hex>.sig` whose
layers are simple-signing payloads, each annotated with its base64 signature) and GPG
signatures in the lookaside storage registries.d names (BASE/REPO@sha256=HEX/signature-N).

`enforce` is the hook pull calls once the manifest is known; `sign_pushed` the one push
calls after the manifest is up.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rootless_build.errors import RegistryError, SignatureError
from rootless_build.oci import digest as dg
from rootless_build.oci import mediatypes as mt
from rootless_build.registry.client import Repository
from rootless_build.registry.errors import RegistryNotFound
from rootless_build.registry.options import RegistryOptions
from rootless_build.registry.referrers import put_blob

if TYPE_CHECKING:
    from rootless_build.sign.keyholder import KeyProcess, KeyThread

SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
MAX_SIGNATURE = 4 << 20   # a payload or GPG signature is a few hundred bytes
MAX_SIGNATURES = 128


@dataclass(frozen=True)
class SigstoreSignature:
    payload: bytes
    signature: str


@dataclass(frozen=True)
class SignOptions:
    """What push was asked to sign with (podman's flags)."""

    sigstore_key: str | None = None      # --sign-by-sigstore-private-key
    gpg_fingerprint: str | None = None   # --sign-by
    passphrase_file: str | None = None   # --sign-passphrase-file
    unlocking: KeyProcess | KeyThread | None = None  # the sigstore key's unlocking, if the command started it

    def __bool__(self) -> bool:
        return bool(self.sigstore_key or self.gpg_fingerprint)


def attachment_tag(manifest_digest: str) -> str:
    algo, hexpart = dg.parse(manifest_digest)
    return f"{algo}-{hexpart}.sig"


class RegistrySignatures:
    """The signatures of one manifest in one repository (the `verify.Signatures` protocol)."""

    def __init__(self, repo: Repository, identity: str, manifest_digest: str, registries_d,
                 *, attachments: bool | None = None):
        self.repo, self.identity, self.digest = repo, identity, manifest_digest
        self.registries_d = registries_d
        self.attachments = registries_d.use_sigstore_attachments(identity) if attachments is None else attachments

    def gpg(self) -> list[bytes]:
        from rootless_build.sign.registries_d import file_path, signature_url

        base = self.registries_d.lookaside(self.identity)
        out = []
        for i in range(MAX_SIGNATURES):
            url = signature_url(base, self.digest, i)
            path = file_path(url)
            data = _read_file(path) if path is not None else _read_http(url)
            if data is None:
                break
            out.append(data)
        return out

    def sigstore(self) -> list[SigstoreSignature]:
        if not self.attachments:
            return []
        manifest = attachment_manifest(self.repo, self.digest)
        out = []
        for layer in (manifest or {}).get("layers", [])[:MAX_SIGNATURES]:
            annotations = layer.get("annotations") or {}
            if layer.get("mediaType") != SIMPLESIGNING or SIGNATURE_ANNOTATION not in annotations:
                continue
            payload = self.repo.read_small_blob(layer.get("digest", ""), layer.get("size", 0), MAX_SIGNATURE,
                                                   "signature blob")
            out.append(SigstoreSignature(payload, annotations[SIGNATURE_ANNOTATION]))
        return out


def enforce(repo: Repository, identity: str, manifest_digest: str, options: RegistryOptions | None) -> None:
    """Refuse the image (SignatureError naming the policy entry) unless the trust policy accepts it."""
    from rootless_build.sign import policy as policies

    options = options or RegistryOptions()
    policy = policies.load(options.signature_policy)
    _, requirements = policy.requirements(identity)
    if all(r.type in ("insecureAcceptAnything", "signedBaseLayer") for r in requirements):
        return  # the common case: no signature to fetch
    from rootless_build.sign import registries_d, verify

    regd = registries_d.load(options.registries_d)
    verify.check(policy, identity, manifest_digest, RegistrySignatures(repo, identity, manifest_digest, regd))


class Signer:
    """Signing prepared as a push starts: the signature storage is configured at once, and
    the sigstore key unlocked on a thread (scrypt, ~0.1 s by design of the cosign key format;
    started by the command before its imports when it can, `SignOptions.unlocking`). Once
    the manifest's digest is known, `prepare` sends what the attachment needs besides the
    signature (the payload and config blobs) on a thread while the manifest goes up;
    `ready()`, called before the manifest is pushed, fails the push there on a wrong
    passphrase; `sign_pushed` signs and puts the attachment manifest."""

    def __init__(self, sign: SignOptions, options: RegistryOptions | None, identity: str):
        from rootless_build.sign import keyholder, registries_d

        self.sign, self.identity = sign, identity
        self.regd = registries_d.load(options.registries_d if options else None)
        self._unlocking: KeyProcess | KeyThread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._prepared: Future[list[dict]] | None = None
        self._payload = b""
        if sign.sigstore_key:
            if not self.regd.use_sigstore_attachments(identity):
                where = registries_d.find_dir(options.registries_d if options else None)
                raise SignatureError(f"signing {identity} with a sigstore key needs `use-sigstore-attachments: true` "
                                     f"for it in registries.d ({where})")
            self._unlocking = sign.unlocking or keyholder.unlock_in_background(sign.sigstore_key,
                                                                               sign.passphrase_file)
        if sign.gpg_fingerprint:
            self.regd.lookaside(identity, write=True)

    def prepare(self, repo: Repository, manifest_digest: str) -> None:
        """Start sending the sigstore attachment's blobs for `manifest_digest` (not pushed yet)."""
        if self._unlocking is None:
            return
        from rootless_build.sign import payload as payloads

        self._payload = payloads.make(payloads.SIGSTORE_TYPE, manifest_digest, self.identity)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sign")
        self._prepared = self._pool.submit(_attachment_parts, repo, manifest_digest, self._payload, self._pool)

    def ready(self):
        """The unlocked sigstore key (None without one); SignatureError if it cannot be."""
        return self._unlocking.result() if self._unlocking is not None else None

    def sign_pushed(self, repo: Repository, manifest_digest: str) -> None:
        """Sign the manifest just pushed and store the signatures."""
        from rootless_build.sign import payload as payloads

        key = self.ready()
        if key is not None:
            if self._prepared is None:
                self.prepare(repo, manifest_digest)
            assert self._prepared is not None and self._pool is not None
            try:
                signature = SigstoreSignature(self._payload, key.sign(self._payload))
                existing = self._prepared.result()
            finally:
                key.close()
                self._pool.shutdown(wait=False)
            put_attachment_manifest(repo, manifest_digest, existing, signature)
        if self.sign.gpg_fingerprint:
            from rootless_build.sign import gpg

            body = payloads.make(payloads.GPG_TYPE, manifest_digest, self.identity)
            write_lookaside(self.regd.lookaside(self.identity, write=True), manifest_digest,
                            gpg.sign(self.sign.gpg_fingerprint, body, self.sign.passphrase_file))


def attachment_manifest(repo: Repository, manifest_digest: str) -> dict | None:
    try:
        raw, _, _ = repo.get_manifest(attachment_tag(manifest_digest))
    except RegistryNotFound:
        return None
    try:
        doc = json.loads(raw)
    except ValueError:
        raise RegistryError(f"{repo.display}: the signature manifest {attachment_tag(manifest_digest)} "
                            "is not JSON") from None
    layers = doc.get("layers", []) if isinstance(doc, dict) else None
    if not isinstance(layers, list) or not all(isinstance(layer, dict) for layer in layers):
        raise RegistryError(f"{repo.display}: malformed signature manifest {attachment_tag(manifest_digest)}")
    return doc


def _attachment_parts(repo: Repository, manifest_digest: str, payload: bytes, pool: ThreadPoolExecutor) -> list[dict]:
    """The layers of the attachment manifest already there, once the payload and a config
    listing it after them are uploaded (as containers/image writes them; the payload's
    upload runs beside the GET of the manifest). Both blobs are new by construction (the
    payload holds a timestamp, the config lists it): the registry is not asked first."""
    uploaded = pool.submit(put_blob, repo, payload, check=False)
    layers = list((attachment_manifest(repo, manifest_digest) or {}).get("layers", []))
    put_blob(repo, _attachment_config([*(entry.get("digest") for entry in layers), dg.of_bytes(payload)]),
             check=False)
    uploaded.result()
    return layers


def _attachment_config(payload_digests: list) -> bytes:
    return json.dumps({"architecture": "", "os": "", "config": {},
                       "rootfs": {"type": "layers", "diff_ids": payload_digests}}, separators=(",", ":")).encode()


def put_attachment_manifest(repo: Repository, manifest_digest: str, layers: list[dict], sig: SigstoreSignature) -> None:
    """Add `sig` to the attachment manifest of `manifest_digest` whose `layers` are already
    there (kept when already among them); the blobs were sent by `_attachment_parts`."""
    layer = {"mediaType": SIMPLESIGNING, "digest": dg.of_bytes(sig.payload), "size": len(sig.payload),
             "annotations": {SIGNATURE_ANNOTATION: sig.signature}}
    if any(other == layer for other in layers):
        return
    layers = [*layers, layer]
    config = _attachment_config([entry.get("digest") for entry in layers])
    doc = {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
           "config": {"mediaType": mt.OCI_CONFIG, "digest": dg.of_bytes(config), "size": len(config)},
           "layers": layers}
    repo.put_manifest(attachment_tag(manifest_digest), json.dumps(doc, separators=(",", ":")).encode(), mt.OCI_MANIFEST)


def write_lookaside(base: str, manifest_digest: str, signature: bytes) -> str:
    """Store a GPG signature as the next free signature-N (unless identical to one there)."""
    from rootless_build.sign.registries_d import file_path, signature_url

    for i in range(MAX_SIGNATURES):
        url = signature_url(base, manifest_digest, i)
        path = file_path(url)
        if path is None:
            raise SignatureError(f"cannot write signatures to {url}: "
                                 "configure a file: lookaside-staging in registries.d")
        existing = _read_file(path)
        if existing == signature:
            return path
        if existing is None:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.tmp{os.getpid()}"
            with open(tmp, "wb") as f:
                f.write(signature)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            return path
    raise SignatureError(f"{base}: too many signatures for {manifest_digest}")


def _read_file(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_SIGNATURE + 1)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise SignatureError(f"reading signature {path}: {e.strerror}") from None
    if len(data) > MAX_SIGNATURE:
        raise SignatureError(f"signature {path} is larger than {MAX_SIGNATURE} bytes")
    return data


def _read_http(url: str) -> bytes | None:
    import requests

    try:
        resp = requests.get(url, timeout=30, stream=True)
        if resp.status_code in (403, 404):
            return None
        resp.raise_for_status()
        data = resp.raw.read(MAX_SIGNATURE + 1, decode_content=True)
    except requests.RequestException as e:
        raise SignatureError(f"reading signature {url}: {e}") from None
    if len(data) > MAX_SIGNATURE:
        raise SignatureError(f"signature {url} is larger than {MAX_SIGNATURE} bytes")
    return data
