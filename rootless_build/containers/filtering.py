"""`ps --filter` with docker's keys: values of one key OR, different keys AND (labels AND)."""

from __future__ import annotations

import re

from rootless_build.containers.catalog import Catalog
from rootless_build.containers.record import EXITED, Container
from rootless_build.errors import RootlessBuildError, UsageError
from rootless_build.store.filters import Filters

PS_KEYS = ("status", "name", "ancestor", "exited", "label", "id", "before", "since", "volume")
STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")


def shows_all(filters: Filters) -> bool:
    """docker lists stopped containers too when asked for a status or an exit code."""
    return "status" in filters or "exited" in filters


def matcher(store, catalog: Catalog, filters: Filters):
    """A predicate over containers; bad values fail here, once, before any is listed."""
    for value in filters.get("status"):
        if value not in STATUSES:
            raise UsageError(f"Invalid filter 'status={value}'")
    exited = []
    for value in filters.get("exited"):
        try:
            exited.append(int(value))
        except ValueError:
            raise UsageError(f"Invalid filter 'exited={value}'") from None
    try:
        names = [re.compile(v) for v in filters.get("name")]
    except re.error as e:
        raise UsageError(f"Invalid filter 'name': {e}") from None
    before = [catalog.lookup(v).created for v in filters.get("before")]
    since = [catalog.lookup(v).created for v in filters.get("since")]
    ancestors = [_image(store, v) for v in filters.get("ancestor")]
    ancestors = [a for a in ancestors if a is not None]

    def check(c: Container) -> bool:
        if filters.get("status") and c.state.status not in filters.get("status"):
            return False
        if exited and not (c.state.status == EXITED and c.state.exit_code in exited):
            return False
        if names and not any(n.search("/" + c.name) for n in names):
            return False
        if filters.get("id") and not any(c.id.startswith(v.lower()) for v in filters.get("id")):
            return False
        if not filters.labels_match(c.config.labels):
            return False
        if any(c.created >= b for b in before) or any(c.created <= s for s in since):
            return False
        if "ancestor" in filters and not any(_descends(store, c, a) for a in ancestors):
            return False
        if "volume" in filters and not _mounts(c, filters.get("volume")):
            return False
        return True
    return check


def _image(store, text: str):
    try:
        return store.resolve(text)
    except RootlessBuildError:
        return None     # docker: an unknown ancestor matches nothing


def _descends(store, container: Container, ancestor) -> bool:
    """The container runs the image, or one built on it (its layers start with the image's)."""
    if container.image_id == ancestor.id:
        return True
    try:
        image = store.load_image(container.manifest_digest)
    except RootlessBuildError:
        return False
    base = ancestor.diff_ids
    return bool(base) and image.diff_ids[:len(base)] == base


def _mounts(container: Container, wanted: list[str]) -> bool:
    """docker's volume=: a volume's name, or a mount's destination in the container."""
    return any(v in (m.name, m.destination) for m in container.config.mounts if m.type != "tmpfs" for v in wanted)
