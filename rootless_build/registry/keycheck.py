"""`verify IMAGE --key PUB`: a registry image's signatures checked against one key, as
`cosign verify --key` does (apart from signatures.py, which pull itself uses)."""

from __future__ import annotations

from rootless_build.registry.options import RegistryOptions
from rootless_build.registry.signatures import RegistrySignatures


def verify_with_key(text: str, key_path: str, options: RegistryOptions | None = None) -> tuple[str, str]:
    """Check that the registry image `text` carries a signature made by the key in
    `key_path` (a PEM public key: sigstore attachments; else a GPG keyring: lookaside) for
    its own repository, as `cosign verify --key` does. Returns (identity, manifest digest)."""
    from rootless_build.registry import conf as registries_conf
    from rootless_build.registry.pull import find_manifest
    from rootless_build.registry.resolve import pull_candidates
    from rootless_build.registry.transport import Connections
    from rootless_build.sign import registries_d, verify
    from rootless_build.sign.policy import Identity, Policy, Requirement

    with open(key_path, "rb") as f:
        key = f.read()
    kind = "sigstoreSigned" if key.lstrip().startswith(b"-----BEGIN PUBLIC KEY") else "signedBy"
    rule = Requirement(kind, f"--key {key_path} ({kind})", (key,), Identity("matchRepository"))
    found = find_manifest(pull_candidates(text, registries_conf.load()), Connections(options))
    identity = str(found.name)
    regd = registries_d.load(options.registries_d if options else None)
    sigs = RegistrySignatures(found.repo, identity, found.digest, regd, attachments=True)
    verify.check(Policy(None, (rule,), {}), identity, found.digest, sigs)
    return identity, found.digest
