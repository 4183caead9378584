"""`images --filter` and `image prune --filter` over listed images, with docker's keys."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from fnmatch import fnmatchcase

from rootless_build.oci import reference
from rootless_build.store.describe import ListedImage
from rootless_build.store.filters import Filters, parse_until
from rootless_build.store.image import Image
from rootless_build.store.store import Store

IMAGES_KEYS = ("dangling", "label", "reference", "before", "since")
PRUNE_KEYS = ("dangling", "label", "label!", "until")


def filter_rows(store: Store, rows: list[ListedImage], filters: Filters) -> list[ListedImage]:
    if not filters:
        return rows
    dangling = filters.boolean("dangling")
    before = [_created(store.resolve(v)) for v in filters.get("before")]
    since = [_created(store.resolve(v)) for v in filters.get("since")]
    out = []
    for row in rows:
        if dangling is not None and dangling != (row.tag is None):
            continue
        if not filters.labels_match(labels_of(row.image)):
            continue
        if "reference" in filters and not any(_reference_matches(row.tag, p) for p in filters.get("reference")):
            continue
        created = _created(row.image)
        if any(created >= b for b in before) or any(created <= s for s in since):
            continue
        out.append(row)
    return out


def prunable(filters: Filters) -> Callable[[Image], bool]:
    """A predicate over images: may prune remove it, given the label and until filters."""
    until = [parse_until(v) for v in filters.get("until")]

    def check(image: Image) -> bool:
        labels = labels_of(image)
        return filters.labels_match(labels) and filters.labels_exclude(labels) and \
            all(_created(image) < u for u in until)
    return check


def labels_of(image: Image) -> dict[str, str]:
    return image.labels


def _created(image: Image) -> datetime:
    return image.created or datetime.min.replace(tzinfo=UTC)


def _reference_matches(tag: str | None, pattern: str) -> bool:
    """docker matches the pattern against the familiar name and name:tag (path.Match)."""
    if not tag:
        return False
    ref = reference.parse(tag)
    familiar = ref.name
    for prefix in ("docker.io/library/", "docker.io/"):
        if familiar.startswith(prefix):
            familiar = familiar[len(prefix):]
            break
    candidates = (familiar, f"{familiar}:{ref.tag}") if ref.tag else (familiar,)
    return any(_path_match(pattern, c) for c in candidates)


def _path_match(pattern: str, name: str) -> bool:
    """Go's path.Match: '*' does not cross '/'."""
    if pattern.count("/") != name.count("/"):
        return False
    return all(fnmatchcase(n, p) for p, n in zip(pattern.split("/"), name.split("/"), strict=True))
