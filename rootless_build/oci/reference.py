"""Image references: [registry/]repository[:tag][@digest], by the grammar of
distribution/reference (docker, podman and skopeo parse the same way), with docker's
normalisation and its error messages."""

from __future__ import annotations

import re

from rootless_build.errors import UsageError
from rootless_build.record import Record

DEFAULT_REGISTRY = "docker.io"
NAME_TOTAL_LENGTH_MAX = 255  # distribution/reference's NameTotalLengthMax

# The grammar of distribution/reference (regexp.go), anchored.
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE_RE = re.compile(
    rf"(?P<name>(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?")
_DIGEST_LENGTHS = {"sha256": 64, "sha512": 128}

INVALID = "invalid reference format"


class InvalidReference(UsageError):
    """A reference that the distribution grammar refuses; str() is docker's message."""


class Reference(Record, frozen=True):
    registry: str  # "" when the name had none (a short name)
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}" if self.registry else self.repository

    def __str__(self) -> str:
        s = self.name
        if self.tag:
            s += f":{self.tag}"
        if self.digest:
            s += f"@{self.digest}"
        return s

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.registry, self.repository, tag, None)

    def fully_qualified(self) -> Reference:
        """docker.io/library/x for a short name, as docker and podman resolve it."""
        registry = self.registry or DEFAULT_REGISTRY
        repo = self.repository
        if registry == DEFAULT_REGISTRY and "/" not in repo:
            repo = f"library/{repo}"
        return Reference(registry, repo, self.tag, self.digest)


def is_domain(part: str) -> bool:
    """Whether a name's first component is a registry host (docker's splitDockerDomain);
    an upper-case first component is a repository name that is not lower case."""
    return "." in part or ":" in part or part == "localhost" or part.startswith("[")


def parse(text: str, default_tag: str | None = "latest") -> Reference:
    """Parse a reference; the tag defaults to `default_tag` unless a digest is given.
    InvalidReference (a UsageError) with docker's message when it is malformed."""
    if not isinstance(text, str) or not text:
        raise InvalidReference(INVALID)
    m = _REFERENCE_RE.fullmatch(text)
    if m is None:
        if _REFERENCE_RE.fullmatch(text.lower()) is not None:
            raise InvalidReference(f"{INVALID}: repository name must be lowercase")
        raise InvalidReference(INVALID)
    name, tag, digest = m.group("name"), m.group("tag"), m.group("digest")
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(f"{INVALID}: repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")
    registry, _, repository = name.partition("/")
    if not repository or not is_domain(registry):
        if registry != registry.lower():
            raise InvalidReference(f"{INVALID}: repository name must be lowercase")
        registry, repository = "", name
    else:
        _check_port(registry)
    if digest is not None:
        _check_digest(digest)
    elif repository in _DIGEST_LENGTHS and tag is not None:
        # "sha256:zz": a digest with a bad hex part, not the image "sha256" with tag "zz"
        _check_digest(f"{repository}:{tag}")
    if tag is None and digest is None:
        tag = default_tag or None
    return Reference(registry, repository, tag, digest)


def _check_port(domain: str) -> None:
    port = domain.rpartition("]")[2].rpartition(":")[2] if ":" in domain.rpartition("]")[2] else ""
    if port and not 0 < int(port) <= 65535:
        raise InvalidReference(f"{INVALID}: invalid port {port}")


def _check_digest(digest: str) -> None:
    """go-digest's rules: a known algorithm, lower-case hex of exactly its length."""
    algorithm, _, hexpart = digest.partition(":")
    wanted = _DIGEST_LENGTHS.get(algorithm)
    if wanted is None:
        raise InvalidReference(f"{INVALID}: unsupported digest algorithm")
    if len(hexpart) != wanted:
        raise InvalidReference(f"{INVALID}: invalid checksum digest length")
    if not re.fullmatch(r"[a-f0-9]+", hexpart):
        raise InvalidReference(f"{INVALID}: invalid checksum digest format")


def looks_like_id(text: str) -> bool:
    """An image ID as users type it: 3 to 64 hex characters, maybe after "sha256:"."""
    hexpart = text.removeprefix("sha256:")
    return 3 <= len(hexpart) <= 64 and all(c in "0123456789abcdef" for c in hexpart)
