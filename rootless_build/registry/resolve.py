"""From what the user typed to the places to pull from, as podman and skopeo resolve it.

A fully qualified name is itself; a short name goes through aliases, then each
unqualified-search registry (docker.io when none are configured, as docker does). Each
name's [[registry]] table may redirect it (location) and put mirrors before it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from rootless_build.errors import RegistryError, UsageError
from rootless_build.oci import reference
from rootless_build.oci.reference import Reference
from rootless_build.registry.conf import RegistriesConf


@dataclass(frozen=True)
class Source:
    """One physical place an image may be fetched from."""

    ref: Reference     # registry host, repository path on it, tag and/or digest
    insecure: bool = False


@dataclass(frozen=True)
class Candidate:
    """A fully qualified name (what the image is called) and where to fetch it, in order."""

    name: Reference
    sources: tuple[Source, ...]


def is_short_name(text: str) -> bool:
    return not reference.parse(text).registry


def qualified_names(text: str, conf: RegistriesConf) -> list[Reference]:
    """The fully qualified names a reference may stand for, in the order to try them."""
    ref = reference.parse(text)
    if ref.registry:
        return [ref.fully_qualified()]
    alias = conf.aliases.get(ref.repository)
    if alias:
        target = reference.parse(alias)
        return [Reference(target.registry, target.repository, ref.tag, ref.digest).fully_qualified()]
    if not conf.search:
        return [ref.fully_qualified()]
    if conf.short_name_mode == "enforcing" and len(conf.search) > 1 and not sys.stdin.isatty():
        raise UsageError(f"short name {text!r} is ambiguous with short-name-mode \"enforcing\" and "
                         f"{len(conf.search)} search registries; use a fully qualified name or an alias")
    return [Reference(host, ref.repository, ref.tag, ref.digest).fully_qualified() for host in conf.search]


def pull_candidates(text: str, conf: RegistriesConf) -> list[Candidate]:
    return [Candidate(name, sources(name, conf)) for name in qualified_names(text, conf)]


def sources(name: Reference, conf: RegistriesConf) -> tuple[Source, ...]:
    """Mirrors first, then the primary location ([[registry]] location, or the name itself)."""
    text = str(name)
    entry = conf.find(text)
    if entry is None:
        return (Source(name),)
    if entry.blocked:
        raise RegistryError(f"{name}: registry {entry.prefix} is blocked in registries.conf")
    out = []
    for mirror in entry.mirrors:
        if mirror.pull_from_mirror == "digest-only" and not name.digest:
            continue
        if mirror.pull_from_mirror == "tag-only" and name.digest:
            continue
        out.append(Source(physical(entry.rewrite(text, mirror.location)), mirror.insecure))
    out.append(Source(physical(entry.rewrite(text)), entry.insecure))
    return tuple(out)


def push_target(text: str, conf: RegistriesConf) -> Source:
    """Where a push goes: the name itself (registries.conf redirects only reads), with its
    `insecure` and `blocked` settings honoured."""
    ref = reference.parse(text).fully_qualified()
    if ref.digest:
        raise UsageError(f"cannot push to a digest reference: {text}")
    entry = conf.find(str(ref))
    if entry is not None and entry.blocked:
        raise RegistryError(f"{ref}: registry {entry.prefix} is blocked in registries.conf")
    return Source(ref, bool(entry and entry.insecure))


def physical(text: str) -> Reference:
    """Parse a rewritten location: its first component is always the registry host."""
    host, _, rest = text.partition("/")
    parsed = reference.parse(f"{host}/{rest}" if _hostlike(host) else f"placeholder.invalid/{rest}")
    return Reference(host, parsed.repository, parsed.tag, parsed.digest)


def _hostlike(part: str) -> bool:
    return "." in part or ":" in part or part == "localhost"
