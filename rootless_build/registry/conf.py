"""containers-registries.conf(5), version 2 (and the old v1 lists): search registries,
short-name aliases, and [[registry]] tables with prefix, location, insecure, blocked and
mirrors.

Files, as podman reads them: the one file $CONTAINERS_REGISTRIES_CONF names; else
~/.config/containers/registries.conf with its registries.conf.d/ drop-ins when it exists;
else /etc/containers/registries.conf, /etc/containers/registries.conf.d/*.conf, then
~/.config/containers/registries.conf.d/*.conf. Later files override earlier ones;
[[registry]] tables with the same prefix replace each other. Aliases recorded by podman in
~/.cache/containers/short-name-aliases.conf win over configured ones.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from rootless_build.errors import RegistryError

ENV = "CONTAINERS_REGISTRIES_CONF"
SYSTEM_FILE = Path("/etc/containers/registries.conf")
SYSTEM_DIR = Path("/etc/containers/registries.conf.d")
_MIRROR_POLICIES = ("all", "digest-only", "tag-only")


class RegistriesConfError(RegistryError):
    pass


@dataclass(frozen=True)
class Endpoint:
    location: str          # host[:port][/namespace...]
    insecure: bool = False
    pull_from_mirror: str = "all"


@dataclass(frozen=True)
class RegistryEntry:
    prefix: str
    location: str
    insecure: bool = False
    blocked: bool = False
    mirrors: tuple[Endpoint, ...] = ()
    mirror_by_digest_only: bool = False

    @property
    def wildcard(self) -> bool:
        return self.prefix.startswith("*.")

    def match_length(self, ref: str) -> int:
        """How much of `ref` ("host/repo:tag") this prefix matches; -1 for no match."""
        if self.wildcard:
            host = ref.split("/", 1)[0].rsplit(":", 1)[0]
            return len(self.prefix) if host.endswith(self.prefix[1:]) else -1
        if ref == self.prefix:
            return len(ref)
        if ref.startswith(self.prefix) and ref[len(self.prefix)] in "/:@":
            return len(self.prefix)
        return -1

    def rewrite(self, ref: str, location: str | None = None) -> str:
        """`ref` with its prefix replaced by `location` (the primary one by default)."""
        location = location if location is not None else self.location
        if self.wildcard or not location:
            return ref
        return location + ref[len(self.prefix):]


@dataclass(frozen=True)
class RegistriesConf:
    search: tuple[str, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)
    short_name_mode: str = "permissive"
    registries: tuple[RegistryEntry, ...] = ()
    files: tuple[str, ...] = ()

    def find(self, ref: str) -> RegistryEntry | None:
        """The [[registry]] table with the longest prefix matching `ref`."""
        best, best_len = None, -1
        for entry in self.registries:
            n = entry.match_length(ref)
            if n > best_len:
                best, best_len = entry, n
        return best

    def insecure(self, host: str) -> bool:
        entry = self.find(host)
        return bool(entry and entry.insecure)


def load(environ: dict[str, str] | None = None) -> RegistriesConf:
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME") or os.path.expanduser("~"))
    config_home = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    cache_home = Path(env.get("XDG_CACHE_HOME") or home / ".cache")
    user_file = config_home / "containers" / "registries.conf"
    user_dir = config_home / "containers" / "registries.conf.d"
    if env.get(ENV):
        files = [Path(env[ENV])]
    elif user_file.exists():
        files = [user_file, *_dropins(user_dir)]
    else:
        files = [SYSTEM_FILE, *_dropins(SYSTEM_DIR), *_dropins(user_dir)]
    merged = _Merged()
    read = []
    for path in files:
        doc = _read_toml(path)
        if doc is not None:
            merged.apply(doc, path)
            read.append(str(path))
    cached = _read_toml(cache_home / "containers" / "short-name-aliases.conf")
    if cached:
        merged.apply_aliases(cached.get("aliases") or {}, "short-name-aliases.conf")
    return RegistriesConf(tuple(merged.search), dict(merged.aliases), merged.mode,
                          tuple(merged.registries.values()), tuple(read))


class _Merged:
    def __init__(self) -> None:
        self.search: list[str] = []
        self.aliases: dict[str, str] = {}
        self.mode = "permissive"
        self.registries: dict[str, RegistryEntry] = {}

    def apply(self, doc: dict, path: Path) -> None:
        v1 = doc.get("registries")
        if isinstance(v1, dict):
            if "registry" in doc or "unqualified-search-registries" in doc:
                raise RegistriesConfError(f"{path}: mixes the v1 [registries.*] and v2 formats")
            doc = _from_v1(v1)
        if "unqualified-search-registries" in doc:
            self.search = [_host(h, path) for h in _str_list(doc["unqualified-search-registries"], path)]
        if "short-name-mode" in doc:
            mode = str(doc["short-name-mode"] or "permissive")
            if mode not in ("enforcing", "permissive", "disabled"):
                raise RegistriesConfError(f"{path}: invalid short-name-mode {mode!r}")
            self.mode = mode
        self.apply_aliases(doc.get("aliases") or {}, str(path))
        for table in doc.get("registry") or []:
            entry = _entry(table, path)
            self.registries[entry.prefix] = entry

    def apply_aliases(self, aliases: dict, where: str) -> None:
        for name, value in aliases.items():
            if not value:
                self.aliases.pop(name, None)
            elif not isinstance(value, str) or "/" not in value:
                raise RegistriesConfError(f"{where}: alias {name!r} must name a fully qualified image")
            else:
                self.aliases[name] = value


def _entry(table: dict, path: Path) -> RegistryEntry:
    if not isinstance(table, dict):
        raise RegistriesConfError(f"{path}: [[registry]] must be a table")
    location = _location(table.get("location", ""), path)
    prefix = str(table.get("prefix") or location).rstrip("/")
    if not prefix:
        raise RegistriesConfError(f"{path}: a [[registry]] table needs a prefix or a location")
    if prefix.startswith("*.") and location:
        raise RegistriesConfError(f"{path}: wildcard prefix {prefix!r} cannot have a location")
    by_digest = bool(table.get("mirror-by-digest-only", False))
    mirrors = []
    for m in table.get("mirror") or []:
        policy = str(m.get("pull-from-mirror") or ("digest-only" if by_digest else "all"))
        if policy not in _MIRROR_POLICIES:
            raise RegistriesConfError(f"{path}: invalid pull-from-mirror {policy!r}")
        mirrors.append(Endpoint(_location(m.get("location", ""), path) or _fail(path, "a mirror needs a location"),
                                bool(m.get("insecure", False)), policy))
    return RegistryEntry(prefix, location, bool(table.get("insecure", False)), bool(table.get("blocked", False)),
                         tuple(mirrors), by_digest)


def _from_v1(v1: dict) -> dict:
    doc: dict = {"registry": []}
    search = (v1.get("search") or {}).get("registries")
    if search is not None:
        doc["unqualified-search-registries"] = search
    insecure = set((v1.get("insecure") or {}).get("registries") or [])
    blocked = set((v1.get("block") or {}).get("registries") or [])
    for host in sorted(insecure | blocked):
        doc["registry"].append({"location": host, "insecure": host in insecure, "blocked": host in blocked})
    return doc


def _location(value, path: Path) -> str:
    text = str(value or "").rstrip("/")
    if text.startswith(("http://", "https://")):
        raise RegistriesConfError(f"{path}: location {text!r} must not have a scheme")
    return text


def _host(value: str, path: Path) -> str:
    if not value or "/" in value:
        raise RegistriesConfError(f"{path}: unqualified-search-registries entry {value!r} is not a host[:port]")
    return value


def _str_list(value, path: Path) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RegistriesConfError(f"{path}: expected a list of strings")
    return value


def _fail(path: Path, message: str):
    raise RegistriesConfError(f"{path}: {message}")


def _dropins(directory: Path) -> list[Path]:
    try:
        return sorted(p for p in directory.iterdir() if p.suffix == ".conf" and p.is_file())
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []


def _read_toml(path: Path) -> dict | None:
    try:
        data = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None
    try:
        return tomllib.loads(data.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise RegistriesConfError(f"{path}: {e}") from None
