"""The simple-signing payload both signature kinds sign (containers-signature(5)):

    {"critical": {"identity": {"docker-reference": REF},
                  "image": {"docker-manifest-digest": DIGEST},
                  "type": TYPE},
     "optional": {"creator": ..., "timestamp": ...}}

GPG signatures use the type "atomic container signature", sigstore (cosign) ones
"cosign container image signature". Parsing is strict as containers/image's: exactly these
critical fields, nothing else, or the signature is not accepted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Set as AbstractSet

from rootless_build import __version__
from rootless_build.errors import SignatureError
from rootless_build.oci import digest as dg

GPG_TYPE = "atomic container signature"
SIGSTORE_TYPE = "cosign container image signature"


def make(kind: str, manifest_digest: str, docker_reference: str) -> bytes:
    """The payload to sign for `docker_reference` (fully qualified, with its tag)."""
    doc = {
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": manifest_digest},
            "type": kind,
        },
        "optional": {"creator": f"rootless-build {__version__}", "timestamp": int(time.time())},
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


class Payload:
    """What a verified signature claims: the manifest digest and the reference signed."""

    __slots__ = ("manifest_digest", "docker_reference")

    def __init__(self, manifest_digest: str, docker_reference: str):
        self.manifest_digest = manifest_digest
        self.docker_reference = docker_reference


def parse(raw: bytes, kind: str) -> Payload:
    """The claims of a payload whose signature was already verified; SignatureError if it
    is not exactly a `kind` payload."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise SignatureError("signature payload is not JSON") from None
    critical = _exact(doc, {"critical", "optional"}, "signature payload", optional={"optional"})["critical"]
    critical = _exact(critical, {"type", "image", "identity"}, "critical")
    if critical["type"] != kind:
        raise SignatureError(f"unrecognised signature type {critical['type']!r}")
    image = _exact(critical["image"], {"docker-manifest-digest"}, "critical.image")
    identity = _exact(critical["identity"], {"docker-reference"}, "critical.identity")
    digest, ref = image["docker-manifest-digest"], identity["docker-reference"]
    if not isinstance(digest, str) or not dg.is_digest(digest):
        raise SignatureError(f"invalid docker-manifest-digest {digest!r}")
    if not isinstance(ref, str) or not ref:
        raise SignatureError("invalid docker-reference in signature")
    return Payload(digest, ref)


def _exact(value: object, keys: set[str], what: str, optional: AbstractSet[str] = frozenset()) -> dict:
    if not isinstance(value, dict):
        raise SignatureError(f"{what} is not a JSON object")
    missing = keys - optional - value.keys()
    extra = value.keys() - keys
    if missing or extra:
        raise SignatureError(f"{what}: unexpected fields (missing {sorted(missing)}, extra {sorted(extra)})")
    return value
