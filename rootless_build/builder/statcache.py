"""Content hashes of build-context files, remembered by (path, size, mtime, ctime, inode).

Like git's index: a warm rebuild stats each file it needs and re-reads only those whose
stat data changed. Kept as one store record per context directory. A file changed within
the timestamp granularity of its hashing is not remembered ("racy"), so an edit made in
the same instant as a build is never missed.
"""

from __future__ import annotations

import hashlib
import os
import time

CONTEXT_HASHES = "context-hashes"
_RACY_NS = 50_000_000  # mtimes are coarse (jiffies); stay well clear of them


def stat_key(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


class StatCache:
    """Path -> content digest for one context directory, persisted in the store."""

    def __init__(self, store, context_root: str):
        self._store = store
        self._key = hashlib.sha256(os.fsencode(context_root)).hexdigest()
        self._entries: dict[str, list] = {}
        self._dirty = False
        if store is not None:
            record = store.get_record(CONTEXT_HASHES, self._key) or {}
            if record.get("root") == context_root:
                self._entries = record.get("files") or {}
        self._root = context_root

    def lookup(self, rel: str, st: os.stat_result) -> str | None:
        entry = self._entries.get(rel)
        if entry and entry[:4] == stat_key(st):
            return entry[4]
        return None

    def seen(self, rel: str) -> bool:
        """Whether this path was hashed before (its stat data has changed since)."""
        return rel in self._entries

    def remember(self, rel: str, st: os.stat_result, digest: str) -> None:
        if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) < _RACY_NS:
            self._entries.pop(rel, None)
            return
        self._entries[rel] = [*stat_key(st), digest]
        self._dirty = True

    def save(self) -> None:
        if self._dirty and self._store is not None:
            # a cache: lost or torn in a crash, the files are hashed again (no fsync)
            self._store.put_record(CONTEXT_HASHES, self._key, {"root": self._root, "files": self._entries},
                                   durable=False)
            self._dirty = False
