"""How tag names are stored and matched: as given, with a tag; short names match docker.io."""

from __future__ import annotations

from rootless_build.oci import reference


def normalize(name: str) -> str:
    """'app' -> 'app:latest'; 'localhost:5000/x' -> 'localhost:5000/x:latest'."""
    return str(reference.parse(name))


def same_image_name(stored: str, wanted: str) -> bool:
    """True when a stored tag answers to what the user typed (busybox == docker.io/library/busybox)."""
    if stored == wanted:
        return True
    try:
        a = reference.parse(stored).fully_qualified()
        b = reference.parse(wanted).fully_qualified()
    except Exception:
        return False
    return str(a) == str(b)


def split_display(name: str | None) -> tuple[str, str]:
    """(REPOSITORY, TAG) columns as docker shows them."""
    if not name:
        return "<none>", "<none>"
    ref = reference.parse(name)
    return ref.name, ref.tag or "<none>"
