"""Archive names: normalise what we write, validate what we read."""

from __future__ import annotations

from collections.abc import Callable

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


MAX_LINKS = 255


def resolve_links(link_target: Callable[[str], str | None], path: str, *, follow_last: bool = True) -> str:
    """`path` with symlinks resolved as if chrooted into a tree ('..' stops at the root,
    absolute targets start from it); missing components are kept as given. The tree is
    `link_target(p)`: the target of the symlink at p, None when p is not one. The one
    resolver of trees we read (a build context, an image's layers, overlay lower dirs)."""
    pending = split_clean(path)
    done: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        target = link_target("/".join([*done, part])) if pending or follow_last else None
        if target is not None:
            hops += 1
            if hops > MAX_LINKS:
                raise LayerError(f"too many levels of symbolic links: /{path}")
            if target.startswith("/"):
                done = []
            pending = split_clean(target) + pending  # its '..' is handled by the loop
            continue
        done.append(part)
    return "/".join(done)


def split_clean(path: str) -> list[str]:
    """The components of a slash-separated path, without empty ones and '.'."""
    return [p for p in path.split("/") if p and p != "."]
