"""What the user said about how to reach registries (flags shared by pull, push, login...)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RegistryOptions:
    # None: verify TLS, plain HTTP only for loopback hosts and registries.conf `insecure`.
    # False: TLS without verification, then plain HTTP (podman's --tls-verify=false).
    tls_verify: bool | None = None
    cert_dir: str | None = None            # CA (*.crt) and client (*.cert + *.key) files
    authfile: str | None = None            # only this auth file, as podman's --authfile
    creds: tuple[str, str] | None = None   # --creds USER:PASSWORD, overrides any file
    signature_policy: str | None = None    # policy.json to apply on pull (--signature-policy)
    registries_d: str | None = None        # where signatures are stored (--registries.d)

    @staticmethod
    def parse_creds(text: str | None) -> tuple[str, str] | None:
        if not text:
            return None
        user, sep, password = text.partition(":")
        return (user, password) if sep else (user, "")
