"""GPG simple signing through the system `gpg` binary (what podman's gpgme calls too).

We drive `gpg` directly rather than through python-gnupg: the two operations we need (sign
a payload with a key from the user's keyring, verify a signature against a policy's keyring
in a throw-away GNUPGHOME) are one command each with a `--status-fd` line to read, and a
wrapper would add a dependency and a layer over the same binary.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from rootless_build.errors import SignatureError

_BASE = ("--batch", "--no-tty", "--no-auto-check-trustdb", "--trust-model", "always")


def _gpg() -> str:
    path = shutil.which("gpg") or shutil.which("gpg2")
    if not path:
        raise SignatureError("gpg is not installed (needed for GPG signatures)")
    return path


def sign(fingerprint: str, payload: bytes, passphrase_file: str | None = None) -> bytes:
    """An OpenPGP signed message (binary, payload inside) made with the key `fingerprint`
    of the user's keyring ($GNUPGHOME or ~/.gnupg)."""
    args = [_gpg(), *_BASE, "--local-user", fingerprint, "--sign"]
    if passphrase_file:
        args[1:1] = ["--pinentry-mode", "loopback", "--passphrase-file", passphrase_file]
    proc = subprocess.run(args, input=payload, capture_output=True)
    if proc.returncode != 0 or not proc.stdout:
        raise SignatureError(f"signing with GPG key {fingerprint}: {_last_line(proc.stderr)}")
    return proc.stdout


def verify(keyring: bytes, signature: bytes) -> tuple[bytes, str] | None:
    """(payload, signer fingerprint) when `signature` is valid and made by a key of
    `keyring` (binary or armored public keys); None otherwise."""
    import tempfile

    home = tempfile.mkdtemp(prefix="rb-gpg-")
    try:
        os.chmod(home, 0o700)
        keys = os.path.join(home, "keys")
        sig = os.path.join(home, "sig")
        out = os.path.join(home, "out")
        for path, data in ((keys, keyring), (sig, signature)):
            with open(path, "wb") as f:
                f.write(data)
        base = [_gpg(), "--homedir", home, *_BASE]
        imported = subprocess.run([*base, "--import", keys], capture_output=True)
        if imported.returncode != 0:
            raise SignatureError(f"reading the policy's GPG keys: {_last_line(imported.stderr)}")
        proc = subprocess.run([*base, "--status-fd", "1", "--output", out, "--decrypt", sig], capture_output=True)
        fingerprint = _valid_signer(proc.stdout)
        if proc.returncode != 0 or fingerprint is None:
            return None
        with open(out, "rb") as f:
            return f.read(), fingerprint
    finally:
        shutil.rmtree(home, ignore_errors=True)


def fingerprints(keyring: bytes) -> list[str]:
    """The primary key fingerprints in `keyring` (to name them in messages and tests)."""
    proc = subprocess.run([_gpg(), *_BASE, "--with-colons", "--show-keys"], input=keyring, capture_output=True)
    return [line.split(":")[9] for line in proc.stdout.decode(errors="replace").splitlines()
            if line.startswith("fpr:")]


def _valid_signer(status: bytes) -> str | None:
    for line in status.decode(errors="replace").splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[:2] == ["[GNUPG:]", "VALIDSIG"]:
            return parts[-1] if len(parts) >= 12 else parts[2]  # the primary key's fingerprint
    return None


def _last_line(stderr: bytes) -> str:
    lines = [line for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1].removeprefix("gpg: ") if lines else "gpg failed"
