"""Archive names: normalise what we write, validate what we read."""

from __future__ import annotations

from rootless_build.errors import LayerError


def clean_arcname(name: str) -> str:
    """'./a//b/' -> 'a/b'; '' for the root. Refuses '..' components.

    Absolute names are made relative (writers strip the leading '/', like docker).
    """
    parts = [p for p in name.split("/") if p and p != "."]
    if ".." in parts:
        raise LayerError(f"refusing archive name {name!r}: it contains '..'")
    return "/".join(parts)


def safe_member_parts(name: str) -> list[str]:
    """Components of a name read from a layer tar; refuses absolute names and '..'.

    A leading './' is fine (tar -C dir -c . writes it); an empty result is the root.
    The error says why; callers add which entry.
    """
    if name.startswith("/"):
        raise LayerError("absolute path refused")
    parts = [p for p in name.split("/") if p and p != "."]
    if ".." in parts:
        raise LayerError("'..' component refused: it would escape the target")
    return parts


def encode_name(name: str) -> bytes:
    """Names read from the filesystem carry undecodable bytes as surrogates: restore them."""
    return name.encode("utf-8", "surrogateescape")
