"""Registry credentials where podman, skopeo and docker keep them.

Read, first hit wins: --creds; then each auth file in turn (--authfile alone when given,
else $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,
$XDG_CONFIG_HOME/containers/auth.json, ~/.docker/config.json, ~/.dockercfg); in a file,
`credHelpers` for the host, then `auths` (most specific namespace first), then
`credsStore`. `login` writes the containers auth.json, mode 0600.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

from rootless_build.registry.errors import RegistryAuthError
from rootless_build.registry.options import RegistryOptions
from rootless_build.store import atomic

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
_DOCKER_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io"}


def write_path(options: RegistryOptions | None = None) -> Path:
    """The auth file `login` writes and `logout` edits."""
    if options and options.authfile:
        return Path(options.authfile)
    if os.environ.get("REGISTRY_AUTH_FILE"):
        return Path(os.environ["REGISTRY_AUTH_FILE"])
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "containers" / "auth.json"
    return _config_home() / "containers" / "auth.json"


def read_paths(options: RegistryOptions | None = None) -> list[Path]:
    if options and options.authfile:
        return [Path(options.authfile)]
    paths = [write_path(options), _config_home() / "containers" / "auth.json"]
    docker_config = os.environ.get("DOCKER_CONFIG")
    home = Path(os.path.expanduser("~"))
    paths.append(Path(docker_config) / "config.json" if docker_config else home / ".docker" / "config.json")
    paths.append(home / ".dockercfg")
    out: list[Path] = []
    for p in paths:
        if p not in out:
            out.append(p)
    return out


def lookup(host: str, repository: str = "", options: RegistryOptions | None = None) -> tuple[str, str] | None:
    """(username, password) for `host` (and optionally a repository on it), or None."""
    if options and options.creds:
        return options.creds
    for path in read_paths(options):
        doc = _read(path)
        if doc is None:
            continue
        found = _lookup_in(doc, host, repository, legacy=path.name == ".dockercfg")
        if found:
            return found
    return None


def save(host: str, username: str, password: str, options: RegistryOptions | None = None) -> Path:
    """Store credentials for `host` in the auth file (created 0600 in a 0700 directory)."""
    path = write_path(options)
    doc = _read(path) or {}
    auths = doc.setdefault("auths", {})
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    auths[_normal_key(host)] = {"auth": token}
    _write(path, doc)
    return path


def remove(host: str, options: RegistryOptions | None = None) -> bool:
    """Forget `host`; False when the auth file had nothing for it."""
    path = write_path(options)
    doc = _read(path)
    if not doc:
        return False
    auths = doc.get("auths") or {}
    keys = [k for k in auths if _normal_key(k) == _normal_key(host)]
    if not keys:
        return False
    for k in keys:
        del auths[k]
    _write(path, doc)
    return True


def remove_all(options: RegistryOptions | None = None) -> None:
    path = write_path(options)
    doc = _read(path)
    if doc and doc.get("auths"):
        doc["auths"] = {}
        _write(path, doc)


# -- reading one file -------------------------------------------------------------------


def _lookup_in(doc: dict, host: str, repository: str, legacy: bool) -> tuple[str, str] | None:
    auths = doc if legacy else (doc.get("auths") or {})
    wanted = _normal_key(host)
    helpers = {} if legacy else (doc.get("credHelpers") or {})
    for key, helper in helpers.items():
        if _normal_key(key) == wanted:
            return _from_helper(helper, key)
    by_key = {}
    for key, entry in auths.items():
        if isinstance(entry, dict):
            by_key.setdefault(_normal_key(key), entry)
    # podman allows namespaced entries: registry/ns/repo beats registry/ns beats registry.
    parts = repository.split("/") if repository else []
    for n in range(len(parts), -1, -1):
        key = "/".join([wanted, *parts[:n]])
        if key in by_key:
            found = _decode_entry(by_key[key])
            if found:
                return found
    store = doc.get("credsStore") if not legacy else None
    if store:
        return _from_helper(store, DOCKER_HUB_KEY if wanted == "docker.io" else wanted)
    return None


def _decode_entry(entry: dict) -> tuple[str, str] | None:
    if entry.get("auth"):
        try:
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return user, password
    if entry.get("username"):
        return entry["username"], entry.get("password", "")
    if entry.get("identitytoken"):
        return "<token>", entry["identitytoken"]
    return None


def _from_helper(helper: str, server: str) -> tuple[str, str] | None:
    """Ask `docker-credential-HELPER get` (the docker credential helper protocol)."""
    program = f"docker-credential-{helper}"
    try:
        proc = subprocess.run([program, "get"], input=server, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise RegistryAuthError(f"credential helper {program} is configured but not installed") from None
    except subprocess.TimeoutExpired:
        raise RegistryAuthError(f"credential helper {program} did not answer within 60 s") from None
    if proc.returncode != 0:
        if "credentials not found" in (proc.stdout + proc.stderr).lower():
            return None
        reason = (proc.stderr or proc.stdout).strip().splitlines()
        raise RegistryAuthError(f"credential helper {program} failed: {reason[-1] if reason else proc.returncode}")
    try:
        answer = json.loads(proc.stdout)
        return answer["Username"], answer["Secret"]
    except (ValueError, KeyError, TypeError):
        raise RegistryAuthError(f"credential helper {program} gave an unreadable answer") from None


def _normal_key(key: str) -> str:
    """'https://index.docker.io/v1/' -> 'docker.io'; 'http://host:5000/v2/' -> 'host:5000'."""
    for scheme in ("https://", "http://"):
        if key.startswith(scheme):
            key = key[len(scheme):]
            key = key.split("/", 1)[0] if key.endswith(("/v1/", "/v2/", "/v1", "/v2")) else key
            break
    key = key.rstrip("/")
    host, sep, rest = key.partition("/")
    if host in _DOCKER_HUB_ALIASES:
        host = "docker.io"
    return host + (sep + rest if rest else "")


def _read(path: Path) -> dict | None:
    try:
        data = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None
    if not data.strip():
        return {}
    try:
        doc = json.loads(data)
    except ValueError as e:
        raise RegistryAuthError(f"{path} is not valid JSON: {e}") from None
    return doc if isinstance(doc, dict) else None


def _write(path: Path, doc: dict) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    atomic.write_bytes(path, json.dumps(doc, indent="\t").encode() + b"\n", mode=0o600)


def _config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config"))
