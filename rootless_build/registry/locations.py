"""Which repositories of which registries are known to hold a blob (seen on pull or push),
so a push can mount a blob from a sibling repository instead of uploading it again."""

from __future__ import annotations

import json
import os
import tempfile

from rootless_build.store import Store
from rootless_build.store.roots import BLOB_SOURCES

KIND = BLOB_SOURCES
_KEEP = 8  # a handful of places is enough to find a mount source


def remember(store: Store, digests: list[str], host: str, repository: str) -> None:
    place = f"{host}/{repository}"
    for digest in dict.fromkeys(digests):
        record = store.get_record(KIND, digest) or {}
        places = [p for p in record.get("locations", []) if isinstance(p, str)]
        if places and places[0] == place:
            continue
        places = [place] + [p for p in places if p != place]
        _write_hint(store, digest, {"locations": places[:_KEEP]})


def repositories_on(store: Store, digest: str, host: str) -> list[str]:
    """Repositories of `host` that held `digest` when we last looked, most recent first."""
    record = store.get_record(KIND, digest) or {}
    prefix = f"{host}/"
    return [p[len(prefix):] for p in record.get("locations", []) if isinstance(p, str) and p.startswith(prefix)]


def _write_hint(store: Store, digest: str, value: dict) -> None:
    """Atomic (rename) but not fsynced: a hint lost in a crash only costs a later upload,
    and an fsync per blob would cost every pull."""
    path = store.record_path(KIND, digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".hint-")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(value, f)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
