"""Apply a trust policy to an image: every requirement of its scope must be satisfied; a
signature requirement is satisfied by one signature that verifies with the requirement's
keys, signs this manifest's digest and names an identity the requirement accepts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from rootless_build.errors import SignatureError, UsageError
from rootless_build.oci import reference
from rootless_build.sign import payload as payloads
from rootless_build.sign.policy import Identity, Policy, Requirement


class SigstoreSignature(Protocol):
    @property
    def payload(self) -> bytes: ...

    @property
    def signature(self) -> str: ...  # base64, from the dev.cosignproject.cosign/signature annotation


class Signatures(Protocol):
    """Where an image's signatures come from; each list is fetched only when asked for."""

    def gpg(self) -> Sequence[bytes]: ...

    def sigstore(self) -> Sequence[SigstoreSignature]: ...


def check(policy: Policy, identity: str, manifest_digest: str, signatures: Signatures) -> None:
    """Return when `policy` accepts the image `identity` ("host/repo:tag" or "host/repo@digest")
    whose top-level manifest has `manifest_digest`; else SignatureError in one line."""
    _, requirements = policy.requirements(identity)
    for req in requirements:
        reason = _unmet(req, identity, manifest_digest, signatures)
        if reason:
            raise SignatureError(f"{identity} rejected by {req.where}: {reason}")


def _unmet(req: Requirement, identity: str, manifest_digest: str, signatures: Signatures) -> str | None:
    if req.type in ("insecureAcceptAnything", "signedBaseLayer"):
        return None
    if req.type == "reject":
        return "images from this scope are rejected"
    found: Sequence[bytes] | Sequence[SigstoreSignature]
    if req.type == "signedBy":
        found = signatures.gpg()
        check_one = _gpg_checker(req)
    else:
        found = signatures.sigstore()
        check_one = _sigstore_checker(req)
    if not found:
        return "a signature was required, but no signature exists"
    reasons = []
    for sig in found:
        claims, reason = check_one(sig)
        if claims is not None:
            reason = _claims_reason(req.identity, identity, manifest_digest, claims)
            if reason is None:
                return None
        reasons.append(reason)
    if len(reasons) == 1:
        return reasons[0]
    return "none of the signatures were accepted: " + "; ".join(dict.fromkeys(reasons))


def _gpg_checker(req: Requirement):
    from rootless_build.sign import gpg

    keyring = b"".join(req.keys)

    def check_one(sig: bytes):
        result = gpg.verify(keyring, sig)
        if result is None:
            return None, "the GPG signature is invalid or not made by a trusted key"
        try:
            return payloads.parse(result[0], payloads.GPG_TYPE), None
        except SignatureError as e:
            return None, str(e)

    return check_one


def _sigstore_checker(req: Requirement):
    from rootless_build.sign import sigstore_keys

    keys = [sigstore_keys.load_public(pem, req.where) for pem in req.keys]

    def check_one(sig: SigstoreSignature):
        if not sigstore_keys.verify(keys, sig.payload, sig.signature):
            return None, "cryptographic signature verification failed"
        try:
            return payloads.parse(sig.payload, payloads.SIGSTORE_TYPE), None
        except SignatureError as e:
            return None, str(e)

    return check_one


def _claims_reason(rule: Identity, identity: str, manifest_digest: str, claims: payloads.Payload) -> str | None:
    if claims.manifest_digest != manifest_digest:
        return f"signature for digest {claims.manifest_digest} does not match"
    if not identity_matches(rule, identity, claims.docker_reference):
        return f"signature for identity {claims.docker_reference!r} is not accepted"
    return None


def identity_matches(rule: Identity, intended_text: str, signed_text: str) -> bool:
    """containers-policy.json(5)'s signedIdentity rules."""
    try:
        signed = _normalized(signed_text)
        intended = _normalized(rule.reference if rule.type.startswith("exact") else intended_text)
    except UsageError:
        return False
    if rule.type == "remapIdentity":
        name = intended.name
        if name == rule.prefix or name.startswith(rule.prefix + "/"):
            try:
                intended = _normalized(rule.signed_prefix + str(intended)[len(rule.prefix):])
            except UsageError:
                return False
    if rule.type in ("matchRepository", "exactRepository"):
        return signed.name == intended.name
    if signed.tag is None and signed.digest is None:
        return False  # a name-only signature never matches an exact rule
    if rule.type in ("matchExact", "exactReference"):
        return str(signed) == str(intended) and (intended.tag is not None or intended.digest is not None)
    # matchRepoDigestOrExact, remapIdentity
    if intended.tag is not None:
        return str(signed) == str(intended)
    if intended.digest is not None:
        return signed.name == intended.name
    return False


def _normalized(text: str):
    return reference.parse(text, default_tag=None).fully_qualified()
