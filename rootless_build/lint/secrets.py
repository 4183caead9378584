"""Names that look like secrets: BuildKit's SecretsUsedInArgOrEnv pattern, and file names
of keys and credentials for our SecretsInBuildArgOrLayer."""

from __future__ import annotations

import fnmatch
import re

_TOKENS = "apikey|auth|credential|credentials|key|password|pword|passwd|secret|token"
_SECRET = re.compile(rf"(?:_|^)(?:{_TOKENS})(?:_|$)", re.IGNORECASE)
_ALLOWED = re.compile(r"(?:_|^)(?:public|file|version)(?:_|$)", re.IGNORECASE)

SECRET_FILES = ("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "*.pem", "*.key", "*.p12", "*.pfx",
                ".env", ".env.*", ".npmrc", ".pypirc", ".netrc", ".git-credentials", "credentials.json",
                ".dockercfg", "*.keystore", "*.jks")
_NOT_SECRET_FILES = (".env.example", ".env.sample", ".env.template", "*.pub")


def is_secret_name(name: str) -> bool:
    return bool(_SECRET.search(name)) and not _ALLOWED.search(name)


def is_secret_file(path: str) -> bool:
    base = path.rstrip("/").rpartition("/")[2]
    if any(fnmatch.fnmatchcase(base, pattern) for pattern in _NOT_SECRET_FILES):
        return False
    return any(fnmatch.fnmatchcase(base, pattern) for pattern in SECRET_FILES)
