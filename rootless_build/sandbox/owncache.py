"""Cache files that decide how isolated a process is (the isolation probe's answer, compiled
seccomp programs): read only when the file and its directory are ours and writable by us
alone. XDG_CACHE_HOME may name a shared place, where another user could leave an answer
that weakens the sandbox under the expected name; a digest or JSON check catches damage,
not that."""

from __future__ import annotations

import os
from pathlib import Path


def read_own(path: Path) -> bytes | None:
    """The file's bytes, or None when it is missing, a symlink, or not ours alone."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        me = os.geteuid()
        for st in (os.fstat(fd), os.stat(path.parent)):
            if st.st_uid != me or st.st_mode & 0o022:
                return None
        with os.fdopen(os.dup(fd), "rb") as f:
            return f.read()
    except OSError:
        return None
    finally:
        os.close(fd)


def write_own(path: Path, data: bytes) -> None:
    """Write atomically, 0600 in a 0700 directory whatever the umask. OSError on failure."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
