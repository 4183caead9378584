"""containers-registries.d(5): where signatures of a docker image are stored.

The directory: the one given (--registries.d, or ROOTLESS_BUILD_REGISTRIES_D), else
~/.config/containers/registries.d when it exists, else /etc/containers/registries.d. Every
*.yaml in it is merged; a namespace defined twice is an error, as in containers/image.

Per namespace (most specific scope first, then `default-docker`): `lookaside` (read, and
write when no staging), `lookaside-staging` (write), the deprecated `sigstore` and
`sigstore-staging` spellings, and `use-sigstore-attachments`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from rootless_build.errors import SignatureError
from rootless_build.oci import digest as dg
from rootless_build.sign.policy import docker_scopes

ENV = "ROOTLESS_BUILD_REGISTRIES_D"
SYSTEM_DIR = Path("/etc/containers/registries.d")
_KEYS = ("lookaside", "lookaside-staging", "sigstore", "sigstore-staging", "use-sigstore-attachments")


@dataclass(frozen=True)
class RegistriesD:
    docker: dict[str, dict] = field(default_factory=dict)
    default: dict | None = None

    def _entries(self, identity: str) -> list[dict]:
        found = [self.docker[s] for s in docker_scopes(identity) if s in self.docker]
        return found + ([self.default] if self.default is not None else [])

    def lookaside(self, identity: str, write: bool = False) -> str:
        """The base URL of the lookaside storage for `identity`, with the repository path
        appended, as containers/image computes it."""
        base = ""
        for entry in self._entries(identity):
            readable = ("lookaside", "sigstore")
            keys = ("lookaside-staging", "sigstore-staging", *readable) if write else readable
            base = next((entry[k] for k in keys if entry.get(k)), "")
            if base:
                break
        if not base:
            base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local/share").joinpath(
                "containers/sigstore").as_uri() if os.geteuid() else "file:///var/lib/containers/sigstore"
        repo = identity.split("@", 1)[0]
        if repo.rfind(":") > repo.rfind("/"):
            repo = repo[:repo.rfind(":")]
        return base.rstrip("/") + "/" + repo.split("/", 1)[1]

    def use_sigstore_attachments(self, identity: str) -> bool:
        for entry in self._entries(identity):
            if entry.get("use-sigstore-attachments") is not None:
                return bool(entry["use-sigstore-attachments"])
        return False


def signature_url(base: str, manifest_digest: str, index: int) -> str:
    """URL of the index-th (0-based) lookaside signature: BASE@sha256=HEX/signature-N."""
    algo, hexpart = dg.parse(manifest_digest)
    return f"{base}@{algo}={hexpart}/signature-{index + 1}"


def file_path(url: str) -> str | None:
    """The local path of a file: URL; None for other schemes."""
    parts = urlsplit(url)
    return unquote(parts.path) if parts.scheme == "file" else None


def find_dir(explicit: str | None = None) -> Path:
    if explicit or os.environ.get(ENV):
        return Path(explicit or os.environ[ENV])
    user = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "containers" / "registries.d"
    return user if user.exists() else SYSTEM_DIR


def load(explicit: str | None = None) -> RegistriesD:
    directory = find_dir(explicit)
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".yaml"))
    except FileNotFoundError:
        return RegistriesD()
    except OSError as e:
        raise SignatureError(f"registries.d {directory}: {e.strerror}") from None
    if not names:
        return RegistriesD()
    import yaml

    docker: dict[str, dict] = {}
    seen: dict[str, str] = {}
    default: dict | None = None
    default_from = ""
    for name in names:
        path = directory / name
        try:
            doc = yaml.safe_load(path.read_text()) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
            raise SignatureError(f"{path}: {str(e).splitlines()[0]}") from None
        if not isinstance(doc, dict):
            raise SignatureError(f"{path}: not a YAML mapping")
        if doc.get("default-docker") is not None:
            if default is not None:
                raise SignatureError(f"\"default-docker\" defined both in {default_from} and {path}")
            default, default_from = _namespace(doc["default-docker"], f"{path}: default-docker"), str(path)
        for scope, entry in (doc.get("docker") or {}).items():
            if scope in docker:
                raise SignatureError(f"\"docker\" namespace {scope!r} defined both in {seen[scope]} and {path}")
            docker[scope], seen[scope] = _namespace(entry, f"{path}: docker[{scope!r}]"), str(path)
    return RegistriesD(docker, default)


def _namespace(entry: object, where: str) -> dict:
    if entry is None:
        return {}
    if not isinstance(entry, dict):
        raise SignatureError(f"{where}: not a mapping")
    for key, value in entry.items():
        if key == "use-sigstore-attachments":
            if not isinstance(value, bool):
                raise SignatureError(f"{where}: use-sigstore-attachments must be true or false")
        elif key in _KEYS:
            if not isinstance(value, str) or urlsplit(value).scheme not in ("file", "http", "https"):
                raise SignatureError(f"{where}: {key} must be a file:, http: or https: URL")
    return dict(entry)
