"""Image references: [registry/]repository[:tag][@digest], docker's normalisation."""

from __future__ import annotations

import re

from rootless_build.errors import UsageError
from rootless_build.oci import digest as dg
from rootless_build.record import Record

DEFAULT_REGISTRY = "docker.io"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_NAME_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")


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


def _looks_like_registry(part: str) -> bool:
    return "." in part or ":" in part or part == "localhost" or part != part.lower()


def parse(text: str, default_tag: str = "latest") -> Reference:
    """Parse a reference; the tag defaults to 'latest' unless a digest is given."""
    original = text
    digest = None
    if "@" in text:
        text, digest = text.split("@", 1)
        if not dg.is_digest(digest):
            raise UsageError(f"invalid reference {original!r}: bad digest")
    tag = None
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > slash:
        text, tag = text[:colon], text[colon + 1 :]
        if not _TAG_RE.match(tag):
            raise UsageError(f"invalid reference {original!r}: bad tag {tag!r}")
    registry = ""
    first, _, rest = text.partition("/")
    if rest and _looks_like_registry(first):
        registry, text = first, rest
    if not text or not _NAME_RE.match(text):
        raise UsageError(f"invalid reference format {original!r}: repository name must be lowercase")
    if tag is None and digest is None:
        tag = default_tag
    return Reference(registry, text, tag, digest)
