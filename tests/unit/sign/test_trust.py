"""Trust policy, registries.d, payloads and keys, without a registry: scope and identity
rules as containers-policy.json(5) states them, and cosign's own signatures verified."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from rootless_build.errors import SignatureError
from rootless_build.oci import digest as dg
from rootless_build.sign import keyholder, registries_d, sigstore_keys, verify
from rootless_build.sign import payload as payloads
from rootless_build.sign import policy as policies
from rootless_build.sign.policy import Identity

COSIGN = Path(__file__).parents[3] / "testdata" / "signing" / "cosign-fixture"
DIGEST = "sha256:" + "ab" * 32


class Sigs:
    def __init__(self, sigstore=(), gpg=()):
        self._sigstore, self._gpg = list(sigstore), list(gpg)

    def sigstore(self):
        return self._sigstore

    def gpg(self):
        return self._gpg


class Sig:
    def __init__(self, payload: bytes, signature: str):
        self.payload, self.signature = payload, signature


@pytest.mark.parametrize("identity, expected", [
    ("reg.example.com:5000/ns/app:1", ["reg.example.com:5000/ns/app:1", "reg.example.com:5000/ns/app",
                                       "reg.example.com:5000/ns", "reg.example.com:5000", "*.example.com",
                                       "*.com"]),
    ("127.0.0.1:5000/app@" + DIGEST, ["127.0.0.1:5000/app@" + DIGEST, "127.0.0.1:5000/app", "127.0.0.1:5000",
                                      "*.0.0.1", "*.0.1", "*.1"]),
], ids=["tag", "digest"])
def test_docker_scopes_most_specific_first(identity, expected):
    assert policies.docker_scopes(identity) == expected


def _policy(tmp_path, doc) -> policies.Policy:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(doc))
    return policies.load(str(path))


def test_the_most_specific_scope_wins(tmp_path):
    pol = _policy(tmp_path, {"default": [{"type": "reject"}], "transports": {"docker": {
        "r:5000": [{"type": "insecureAcceptAnything"}],
        "r:5000/app": [{"type": "reject"}],
        "r:5000/app:ok": [{"type": "insecureAcceptAnything"}],
        "": [{"type": "insecureAcceptAnything"}]}}})
    assert pol.requirements("r:5000/app:ok")[0] == "r:5000/app:ok"
    assert pol.requirements("r:5000/app:other")[0] == "r:5000/app"
    assert pol.requirements("r:5000/lib/x:1")[0] == "r:5000"
    assert pol.requirements("elsewhere.io/x:1")[0] == ""
    with pytest.raises(SignatureError, match=r'rejected by .*transports.docker\["r:5000/app"\]\[0\] \(reject\)'):
        verify.check(pol, "r:5000/app:other", DIGEST, Sigs())
    verify.check(pol, "r:5000/app:ok", DIGEST, Sigs())


def test_default_applies_when_no_scope_matches(tmp_path):
    pol = _policy(tmp_path, {"default": [{"type": "reject"}]})
    with pytest.raises(SignatureError, match=r"policy.json: default\[0\] \(reject\)"):
        verify.check(pol, "docker.io/library/busybox:latest", DIGEST, Sigs())


@pytest.mark.parametrize("doc, message", [
    ({}, "non-empty \"default\""),
    ({"default": [{"type": "whatever"}]}, "unknown requirement type"),
    ({"default": [{"type": "sigstoreSigned"}]}, "exactly one of keyPath"),
    ({"default": [{"type": "sigstoreSigned", "keyPath": "k", "keyData": "eA=="}]}, "exactly one of keyPath"),
    ({"default": [{"type": "sigstoreSigned", "keyData": "eA==", "fulcio": {}}]}, "fulcio is not supported"),
    ({"default": [{"type": "signedBy", "keyType": "X509Certificates", "keyData": "eA=="}]}, "unsupported keyType"),
    ({"default": [{"type": "signedBy", "keyData": "eA==", "signedIdentity": {"type": "nope"}}]},
     "unknown signedIdentity"),
    ({"default": [{"type": "signedBy", "keyPath": "/nonexistent/key.gpg"}]}, "key /nonexistent/key.gpg"),
], ids=["no-default", "bad-type", "no-key", "two-keys", "fulcio", "x509", "identity", "missing-key"])
def test_bad_policies_are_refused_in_one_line(tmp_path, doc, message):
    with pytest.raises(SignatureError, match=message) as info:
        _policy(tmp_path, doc)
    assert "\n" not in str(info.value) and str(tmp_path) in str(info.value)


@pytest.mark.parametrize("rule, intended, signed, ok", [
    (Identity(), "r/app:1", "r/app:1", True),
    (Identity(), "r/app:1", "r/app:2", False),
    (Identity(), "r/app@" + DIGEST, "r/app:anything", True),
    (Identity(), "r/app@" + DIGEST, "r/other:1", False),
    (Identity(), "r/app:1", "r/app", False),
    (Identity("matchExact"), "r/app@" + DIGEST, "r/app:1", False),
    (Identity("matchRepository"), "r/app:1", "r/app:2", True),
    (Identity("exactReference", reference="r/app:v9"), "r/app:1", "r/app:v9", True),
    (Identity("exactRepository", reference="r/signed"), "r/app:1", "r/signed:x", True),
    (Identity("remapIdentity", prefix="mirror.io/ns", signed_prefix="r"), "mirror.io/ns/app:1", "r/app:1", True),
    (Identity(), "docker.io/library/busybox:latest", "busybox:latest", True),
], ids=["exact", "other-tag", "digest-any-tag", "digest-other-repo", "name-only", "matchExact-digest",
        "repository", "exactReference", "exactRepository", "remap", "normalised"])
def test_signed_identity_rules(rule, intended, signed, ok):
    def full(text):
        return text.replace("r/", "reg.io/", 1) if text.startswith("r/") else text

    rule = Identity(rule.type, full(rule.reference), rule.prefix, full(rule.signed_prefix + "/")[:-1] if
                    rule.signed_prefix else "")
    assert verify.identity_matches(rule, full(intended), full(signed)) is ok


def test_payload_is_parsed_strictly():
    raw = payloads.make(payloads.SIGSTORE_TYPE, DIGEST, "reg.io/app:1")
    parsed = payloads.parse(raw, payloads.SIGSTORE_TYPE)
    assert (parsed.manifest_digest, parsed.docker_reference) == (DIGEST, "reg.io/app:1")
    with pytest.raises(SignatureError, match="unrecognised signature type"):
        payloads.parse(raw, payloads.GPG_TYPE)
    doc = json.loads(raw)
    doc["critical"]["extra"] = 1
    with pytest.raises(SignatureError, match="unexpected fields"):
        payloads.parse(json.dumps(doc).encode(), payloads.SIGSTORE_TYPE)


def test_key_pair_round_trip_and_wrong_passphrase():
    private_pem, public_pem = sigstore_keys.generate(b"secret")
    assert private_pem.startswith(b"-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n")
    body = base64.b64decode(b"".join(private_pem.splitlines()[1:-1]))
    doc = json.loads(body)  # go-securesystemslib's layout, which cosign and skopeo read
    assert doc["kdf"]["name"] == "scrypt" and doc["kdf"]["params"] == {"N": 32768, "r": 8, "p": 1}
    assert doc["cipher"]["name"] == "nacl/secretbox" and len(base64.b64decode(doc["cipher"]["nonce"])) == 24
    key = sigstore_keys.load_private(private_pem, b"secret", "k")
    public = sigstore_keys.load_public(public_pem, "p")
    signature = sigstore_keys.sign(key, b"payload")
    assert sigstore_keys.verify([public], b"payload", signature)
    assert not sigstore_keys.verify([public], b"payloaD", signature)
    with pytest.raises(SignatureError, match="wrong passphrase"):
        sigstore_keys.load_private(private_pem, b"not it", "k")


def test_key_unlocks_in_a_child_or_a_thread_and_both_scrypts_agree(tmp_path, monkeypatch):
    private_pem, public_pem = sigstore_keys.generate(b"secret")
    (tmp_path / "k").write_bytes(private_pem)
    (tmp_path / "pass").write_bytes(b"secret\n")
    public = sigstore_keys.load_public(public_pem, "p")
    for kind in (keyholder.KeyProcess, keyholder.KeyThread):
        key = kind(private_pem, b"secret", "k").result()
        assert sigstore_keys.verify([public], b"x", key.sign(b"x"))
        assert sigstore_keys.verify([public], b"y" * 5000, key.sign(b"y" * 5000))
        key.close()
        wrong = kind(private_pem, b"", "k")
        with pytest.raises(SignatureError, match="k: wrong passphrase"):
            wrong.sign(b"x")
        wrong.close()
    held = keyholder.unlock_in_background(str(tmp_path / "k"), str(tmp_path / "pass"))
    assert sigstore_keys.verify([public], b"z", held.result().sign(b"z"))
    held.close()
    with pytest.raises(SignatureError, match="No such file"):
        keyholder.unlock_in_background(str(tmp_path / "missing"), None)
    # libsodium's scrypt (the fast path) and OpenSSL's (the fallback) derive the same key.
    params, salt = {"N": 32768, "r": 8, "p": 1}, b"s" * 32
    fast = sigstore_keys._derive(b"pw", salt, params)
    from nacl import bindings

    monkeypatch.setattr(bindings, "has_crypto_pwhash_scryptsalsa208sha256", False)
    assert sigstore_keys._derive(b"pw", salt, params) == fast


def _cosign_fixture(manifest: str):
    header, _, body = (COSIGN / "dir-img-cosign-valid_signature-1").read_bytes().partition(b"\n")
    assert header == b"\0sigstore-json"
    doc = json.loads(body)
    sig = Sig(base64.b64decode(doc["payload"]), doc["annotations"]["dev.cosignproject.cosign/signature"])
    digest = dg.of_bytes((COSIGN / manifest).read_bytes())
    return sig, digest


def test_cosign_made_signature_is_accepted(tmp_path):
    sig, digest = _cosign_fixture("dir-img-cosign-valid_manifest.json")
    pol = _policy(tmp_path, {"default": [{"type": "sigstoreSigned", "keyPath": str(COSIGN / "cosign.pub"),
                                          "signedIdentity": {"type": "matchRepository"}}]})
    verify.check(pol, "192.168.64.2:5000/cosign-signed-single-sample:latest", digest, Sigs(sigstore=[sig]))


def test_cosign_signature_of_another_manifest_is_refused(tmp_path):
    sig, digest = _cosign_fixture("dir-img-cosign-modified-manifest_manifest.json")
    pol = _policy(tmp_path, {"default": [{"type": "sigstoreSigned", "keyPath": str(COSIGN / "cosign.pub"),
                                          "signedIdentity": {"type": "matchRepository"}}]})
    with pytest.raises(SignatureError, match="does not match"):
        verify.check(pol, "192.168.64.2:5000/cosign-signed-single-sample:latest", digest, Sigs(sigstore=[sig]))


def test_cosign_signature_with_another_key_is_refused(tmp_path):
    sig, digest = _cosign_fixture("dir-img-cosign-valid_manifest.json")
    _, other_public = sigstore_keys.generate(b"x")
    (tmp_path / "other.pub").write_bytes(other_public)
    pol = _policy(tmp_path, {"default": [{"type": "sigstoreSigned", "keyPath": "other.pub"}]})
    with pytest.raises(SignatureError, match="cryptographic signature verification failed"):
        verify.check(pol, "192.168.64.2:5000/cosign-signed-single-sample:latest", digest, Sigs(sigstore=[sig]))


def test_registries_d_lookaside_and_attachments(tmp_path):
    (tmp_path / "a.yaml").write_text("docker:\n  reg.io:5000:\n    lookaside: https://sigs.example/l\n"
                                     "    lookaside-staging: file:///tmp/staging\n"
                                     "  reg.io:5000/team:\n    use-sigstore-attachments: true\n")
    (tmp_path / "b.yaml").write_text("default-docker:\n  sigstore: file:///var/sigs\n")
    conf = registries_d.load(str(tmp_path))
    assert conf.lookaside("reg.io:5000/team/app:1") == "https://sigs.example/l/team/app"
    assert conf.lookaside("reg.io:5000/team/app:1", write=True) == "file:///tmp/staging/team/app"
    assert conf.lookaside("other.io/x/y@" + DIGEST) == "file:///var/sigs/x/y"
    assert conf.use_sigstore_attachments("reg.io:5000/team/app:1")
    assert not conf.use_sigstore_attachments("reg.io:5000/app:1")
    assert registries_d.signature_url("file:///l/app", DIGEST, 0) == f"file:///l/app@sha256={'ab' * 32}/signature-1"


def test_registries_d_duplicate_namespace_is_an_error(tmp_path):
    (tmp_path / "a.yaml").write_text("docker:\n  reg.io:\n    lookaside: file:///a\n")
    (tmp_path / "b.yaml").write_text("docker:\n  reg.io:\n    lookaside: file:///b\n")
    with pytest.raises(SignatureError, match="defined both in"):
        registries_d.load(str(tmp_path))


def test_policy_file_precedence(tmp_path, monkeypatch):
    """--signature-policy, then the environment, then the user's file, then the system's."""
    user = tmp_path / "config" / "containers" / "policy.json"
    user.parent.mkdir(parents=True)
    user.write_text('{"default": [{"type": "reject"}]}')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv(policies.ENV, raising=False)
    assert policies.find_file() == user
    env_file = tmp_path / "env.json"
    monkeypatch.setenv(policies.ENV, str(env_file))
    assert policies.find_file() == env_file
    assert policies.find_file("/explicit.json") == Path("/explicit.json")
    with pytest.raises(SignatureError, match="no such file"):
        policies.load()
    monkeypatch.delenv(policies.ENV)
    user.unlink()
    assert policies.find_file() in (policies.SYSTEM_FILE, None)
