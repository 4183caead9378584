"""Sigstore (cosign) keys and signatures, ECDSA P-256 over SHA-256.

The private key file is what `cosign generate-key-pair` and `skopeo generate-sigstore-key`
write: a PEM block "ENCRYPTED COSIGN PRIVATE KEY" (or "... SIGSTORE ...") whose body is the
JSON of go-securesystemslib's `encrypted` package: the PKCS#8 key sealed with NaCl
secretbox under a key derived by scrypt from the passphrase. The public key is a PKIX
"PUBLIC KEY" PEM. A signature is the base64 of the ASN.1 ECDSA signature of the payload.

`cryptography` does the ECDSA and PEM work, PyNaCl the secretbox (cryptography has no
XSalsa20) and the scrypt (libsodium's is ~25% faster than OpenSSL's behind hashlib, the
fallback); all are imported here only, when a key is used.

The scrypt is the cost of the format (N=32768, r=8: ~75 ms, 32 MiB, by design):
`keyholder.unlock_in_background` takes it off a command's critical path.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os

from rootless_build.errors import SignatureError

PRIVATE_PEM_TYPES = ("ENCRYPTED COSIGN PRIVATE KEY", "ENCRYPTED SIGSTORE PRIVATE KEY")
_WRITTEN_PEM_TYPE = PRIVATE_PEM_TYPES[0]  # the one every cosign and containers/image release reads
_SCRYPT = {"N": 32768, "r": 8, "p": 1}    # go-securesystemslib's defaults, as cosign writes them
_ALLOWED_SCRYPT = ({"N": 32768, "r": 8, "p": 1}, {"N": 65536, "r": 8, "p": 1}, {"N": 1048576, "r": 8, "p": 1})


def generate(passphrase: bytes) -> tuple[bytes, bytes]:
    """A new P-256 key pair: (encrypted private key PEM, public key PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    body = _seal(pkcs8, passphrase)
    private_pem = _pem(_WRITTEN_PEM_TYPE, body)
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    return private_pem, public_pem


def load_private(pem: bytes, passphrase: bytes, where: str):
    """The private key of an encrypted cosign key file."""
    kind, body = _unpem(pem, where)
    if kind not in PRIVATE_PEM_TYPES:
        raise SignatureError(f"{where}: not an encrypted sigstore private key (PEM type {kind!r})")
    der = _open(body, passphrase, where)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_der_private_key(der, password=None)
    except ValueError as e:
        raise SignatureError(f"{where}: unreadable private key: {e}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SignatureError(f"{where}: only ECDSA sigstore keys are supported")
    return key


def load_public(pem: bytes, where: str):
    """A public key from a PKIX PEM (what keyPath/keyData and `verify --key` name)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as e:
        raise SignatureError(f"{where}: not a PEM public key: {e}") from None
    if not isinstance(key, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey, ed25519.Ed25519PublicKey)):
        raise SignatureError(f"{where}: unsupported public key type")
    return key


def sign(key, payload: bytes) -> str:
    """The base64 ECDSA-SHA256 signature of `payload`, as the cosign annotation holds it."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    return base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()


def verify(public_keys: list, payload: bytes, signature_b64: str) -> bool:
    """True when one of `public_keys` made `signature_b64` over `payload`."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (ValueError, TypeError):
        return False
    for key in public_keys:
        try:
            if isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
            elif isinstance(key, rsa.RSAPublicKey):
                key.verify(signature, payload, padding.PKCS1v15(), hashes.SHA256())
            elif isinstance(key, ed25519.Ed25519PublicKey):
                key.verify(signature, payload)
            else:
                continue
            return True
        except InvalidSignature:
            continue
    return False


def read_passphrase(path: str | None, env: str = "COSIGN_PASSWORD") -> bytes:
    """The passphrase: the first line of `path` (podman's --sign-passphrase-file), else the
    environment variable cosign reads, else empty."""
    if path:
        with open(path, "rb") as f:
            return f.readline().rstrip(b"\r\n")
    return os.environb.get(env.encode(), b"")


# -- go-securesystemslib "encrypted" ----------------------------------------------------------

def _seal(plaintext: bytes, passphrase: bytes) -> bytes:
    from nacl.secret import SecretBox

    salt, nonce = os.urandom(32), os.urandom(24)
    box = SecretBox(_derive(passphrase, salt, _SCRYPT))
    sealed = box.encrypt(plaintext, nonce).ciphertext
    doc = {"kdf": {"name": "scrypt", "params": _SCRYPT, "salt": _b64(salt)},
           "cipher": {"name": "nacl/secretbox", "nonce": _b64(nonce)},
           "ciphertext": _b64(sealed)}
    return json.dumps(doc, separators=(",", ":")).encode()


def _open(body: bytes, passphrase: bytes, where: str) -> bytes:
    try:
        doc = json.loads(body)
        kdf, cipher = doc["kdf"], doc["cipher"]
        params = {k: int(kdf["params"][k]) for k in ("N", "r", "p")}
        salt, nonce = base64.b64decode(kdf["salt"]), base64.b64decode(cipher["nonce"])
        sealed = base64.b64decode(doc["ciphertext"])
    except (ValueError, KeyError, TypeError):
        raise SignatureError(f"{where}: malformed encrypted key") from None
    if kdf.get("name") != "scrypt" or cipher.get("name") != "nacl/secretbox" or params not in _ALLOWED_SCRYPT:
        raise SignatureError(f"{where}: unsupported key encryption {kdf.get('name')}/{cipher.get('name')}")
    secret = _derive(passphrase, salt, params)
    from nacl.exceptions import CryptoError
    from nacl.secret import SecretBox

    try:
        return SecretBox(secret).decrypt(sealed, nonce)
    except (CryptoError, ValueError):
        raise SignatureError(f"{where}: wrong passphrase or damaged key") from None


def _derive(passphrase: bytes, salt: bytes, params: dict) -> bytes:
    n, r, p = params["N"], params["r"], params["p"]
    maxmem = 256 * r * n + (1 << 20)
    from nacl import bindings

    if bindings.has_crypto_pwhash_scryptsalsa208sha256:
        return bindings.crypto_pwhash_scryptsalsa208sha256_ll(passphrase, salt, n, r, p, dklen=32, maxmem=maxmem)
    return hashlib.scrypt(passphrase, salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=32)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _pem(kind: str, body: bytes) -> bytes:
    text = base64.encodebytes(body).decode().replace("\n", "")
    lines = [text[i:i + 64] for i in range(0, len(text), 64)]
    return ("\n".join([f"-----BEGIN {kind}-----", *lines, f"-----END {kind}-----"]) + "\n").encode()


def _unpem(pem: bytes, where: str) -> tuple[str, bytes]:
    lines = pem.decode("ascii", "replace").strip().splitlines()
    if len(lines) < 2 or not lines[0].startswith("-----BEGIN ") or not lines[-1].startswith("-----END "):
        raise SignatureError(f"{where}: not a PEM file")
    kind = lines[0][len("-----BEGIN "):].rstrip("-")
    try:
        return kind, base64.b64decode("".join(line for line in lines[1:-1] if ":" not in line))
    except ValueError:
        raise SignatureError(f"{where}: damaged PEM body") from None
