"""`logs [-f]`: the container's log, stdout records to stdout and stderr records to stderr."""

from __future__ import annotations

import os
from collections import deque

from rootless_build.containers.catalog import Catalog
from rootless_build.containers.logfile import read_records
from rootless_build.containers.record import Container
from rootless_build.containers.status import is_running, refresh


def print_logs(catalog: Catalog, container: Container, *, follow: bool = False, timestamps: bool = False,
               tail: int | None = None, stdout_fd: int = 1, stderr_fd: int = 2) -> None:
    path = catalog.log_path(container.id)
    if not path.exists():
        return

    def still_running() -> bool:
        try:
            return is_running(refresh(catalog, catalog.load(container.id)))
        except Exception:
            return False

    with open(path, "rb") as f:
        if tail is not None:
            # whole lines only: a partial record (P) belongs with the next ones
            last: deque = deque(maxlen=tail)
            for record in read_records(f):
                last.append(record)
            records = iter(last)
            _emit(records, timestamps, stdout_fd, stderr_fd)
            if not follow:
                return
        _emit(read_records(f, follow=still_running if follow else None), timestamps, stdout_fd, stderr_fd)


def _emit(records, timestamps: bool, stdout_fd: int, stderr_fd: int) -> None:
    for stream, stamp, content in records:
        data = stamp + b" " + content if timestamps else content
        fd = stdout_fd if stream == 1 else stderr_fd
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
