"""containers-policy.json(5): which images may be pulled, for the `docker` transport.

Files, as containers/image looks for them: the one given (--signature-policy, or the
ROOTLESS_BUILD_SIGNATURE_POLICY environment variable), else ~/.config/containers/policy.json,
else /etc/containers/policy.json. With none of them, everything is accepted (docker has no
policy; containers/image would refuse to run).

Scopes for `docker`, most specific first: "host/repo:tag" (or "@digest"), "host/repo", each
parent namespace, "host[:port]", "*.domain" wildcards, then the transport's "" entry, then
"default". Every requirement of the chosen list must be satisfied.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path

from rootless_build.errors import SignatureError

ENV = "ROOTLESS_BUILD_SIGNATURE_POLICY"
SYSTEM_FILE = Path("/etc/containers/policy.json")
TYPES = ("insecureAcceptAnything", "reject", "signedBy", "sigstoreSigned", "signedBaseLayer")
IDENTITY_TYPES = ("matchExact", "matchRepoDigestOrExact", "matchRepository", "exactReference",
                  "exactRepository", "remapIdentity")


@dataclass(frozen=True)
class Identity:
    type: str = "matchRepoDigestOrExact"
    reference: str = ""        # exactReference's dockerReference / exactRepository's dockerRepository
    prefix: str = ""           # remapIdentity
    signed_prefix: str = ""


@dataclass(frozen=True)
class Requirement:
    type: str
    where: str                  # 'policy.json: transports.docker["localhost:5000/app"][0] (sigstoreSigned)'
    keys: tuple[bytes, ...] = ()  # key material (PEM public keys, or GPG keyrings)
    identity: Identity = Identity()


@dataclass(frozen=True)
class Policy:
    path: str | None
    default: tuple[Requirement, ...]
    docker: dict[str, tuple[Requirement, ...]]

    def requirements(self, identity: str) -> tuple[str, tuple[Requirement, ...]]:
        """(scope, requirements) for an image named `identity` ("host/repo:tag" or "@digest")."""
        for scope in docker_scopes(identity):
            if scope in self.docker:
                return scope, self.docker[scope]
        if "" in self.docker:
            return "", self.docker[""]
        return "default", self.default


ACCEPT_ANYTHING = Policy(None, (Requirement("insecureAcceptAnything", "no policy.json"),), {})


def docker_scopes(identity: str) -> list[str]:
    """The scopes that may match a docker image, most specific first."""
    name = identity.split("@", 1)[0]
    slash = name.rfind("/")
    if name.rfind(":") > slash:
        name = name[:name.rfind(":")]
    out = [identity, name]
    while "/" in name:
        name = name.rsplit("/", 1)[0]
        out.append(name)
    host = name.split(":", 1)[0]
    labels = host.split(".")
    out.extend("*." + ".".join(labels[i:]) for i in range(1, len(labels)))
    return list(dict.fromkeys(out))


def find_file(explicit: str | None = None) -> Path | None:
    if explicit or os.environ.get(ENV):
        return Path(explicit or os.environ[ENV])
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    for path in (config / "containers" / "policy.json", SYSTEM_FILE):
        if path.exists():
            return path
    return None


def load(explicit: str | None = None) -> Policy:
    path = find_file(explicit)
    if path is None:
        return ACCEPT_ANYTHING
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise SignatureError(f"signature policy {path}: no such file") from None
    except (OSError, ValueError) as e:
        raise SignatureError(f"signature policy {path}: {e}") from None
    return parse(doc, str(path))


def parse(doc: object, path: str) -> Policy:
    if not isinstance(doc, dict) or not isinstance(doc.get("default"), list) or not doc["default"]:
        raise SignatureError(f"{path}: a policy needs a non-empty \"default\" list")
    transports = doc.get("transports") or {}
    if not isinstance(transports, dict):
        raise SignatureError(f"{path}: \"transports\" must be an object")
    docker = transports.get("docker") or {}
    if not isinstance(docker, dict):
        raise SignatureError(f"{path}: transports.docker must be an object")
    base = Path(path).parent
    default = _requirements(doc["default"], f"{path}: default", base)
    scopes = {scope: _requirements(reqs, f'{path}: transports.docker["{scope}"]', base)
              for scope, reqs in docker.items()}
    return Policy(path, default, scopes)


def _requirements(items: object, where: str, base: Path) -> tuple[Requirement, ...]:
    if not isinstance(items, list) or not items:
        raise SignatureError(f"{where}: must be a non-empty list of requirements")
    return tuple(_requirement(item, f"{where}[{i}]", base) for i, item in enumerate(items))


def _requirement(item: object, where: str, base: Path) -> Requirement:
    if not isinstance(item, dict) or item.get("type") not in TYPES:
        kind = item.get("type") if isinstance(item, dict) else item
        raise SignatureError(f"{where}: unknown requirement type {kind!r}")
    kind = item["type"]
    where = f"{where} ({kind})"
    if kind in ("insecureAcceptAnything", "reject", "signedBaseLayer"):
        return Requirement(kind, where)
    if kind == "signedBy" and item.get("keyType", "GPGKeys") != "GPGKeys":
        raise SignatureError(f"{where}: unsupported keyType {item.get('keyType')!r} (only GPGKeys)")
    if kind == "sigstoreSigned":
        unsupported = {"fulcio", "rekorPublicKeyPath", "rekorPublicKeyData", "pki"} & item.keys()
        if unsupported:
            raise SignatureError(f"{where}: {', '.join(sorted(unsupported))} is not supported (use keyPath or keyData)")
    return Requirement(kind, where, _keys(item, where, base), _identity(item.get("signedIdentity"), where))


def _keys(item: dict, where: str, base: Path) -> tuple[bytes, ...]:
    given = [k for k in ("keyPath", "keyPaths", "keyData", "keyDatas") if k in item]
    if len(given) != 1:
        raise SignatureError(f"{where}: exactly one of keyPath, keyPaths or keyData is required")
    value = item[given[0]]
    values = value if given[0] in ("keyPaths", "keyDatas") else [value]
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
        raise SignatureError(f"{where}: {given[0]} must name keys")
    if given[0].startswith("keyData"):
        try:
            return tuple(base64.b64decode(v, validate=True) for v in values)
        except ValueError:
            raise SignatureError(f"{where}: keyData is not base64") from None
    out = []
    for v in values:
        path = base / v
        try:
            out.append(path.read_bytes())
        except OSError as e:
            raise SignatureError(f"{where}: key {path}: {e.strerror}") from None
    return tuple(out)


def _identity(value: object, where: str) -> Identity:
    if value is None:
        return Identity()
    if not isinstance(value, dict) or value.get("type") not in IDENTITY_TYPES:
        raise SignatureError(f"{where}: unknown signedIdentity {value!r}")
    kind = value["type"]
    if kind == "exactReference":
        return Identity(kind, reference=_text(value, "dockerReference", where))
    if kind == "exactRepository":
        return Identity(kind, reference=_text(value, "dockerRepository", where))
    if kind == "remapIdentity":
        return Identity(kind, prefix=_text(value, "prefix", where), signed_prefix=_text(value, "signedPrefix", where))
    return Identity(kind)


def _text(value: dict, key: str, where: str) -> str:
    text = value.get(key)
    if not isinstance(text, str) or not text:
        raise SignatureError(f"{where}: signedIdentity needs {key}")
    return text
