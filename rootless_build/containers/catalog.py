"""The containers of a store: $ROOT/containers/<id>/ with container.json, upper/, work/ and
ctr.log. Records are written atomically under a per-container lock; creating one (and
so reserving its name) happens under a lock over the whole directory."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rootless_build.containers import names
from rootless_build.containers.record import Container
from rootless_build.errors import ContainerError, UsageError
from rootless_build.store import atomic
from rootless_build.store.lock import locked

RECORD = "container.json"
STATE = "state.json"


class NoSuchContainer(ContainerError):
    pass


class Catalog:
    def __init__(self, containers_dir: Path):
        self.dir = Path(containers_dir)

    # -- paths ----------------------------------------------------------------------------

    def path(self, container_id: str) -> Path:
        return self.dir / container_id

    def upper_dir(self, container_id: str) -> Path:
        return self.path(container_id) / "upper"

    def work_dir(self, container_id: str) -> Path:
        return self.path(container_id) / "work"

    def log_path(self, container_id: str) -> Path:
        return self.path(container_id) / "ctr.log"

    @staticmethod
    def runtime_path(container_id: str) -> Path:
        """Per-boot state (the attach socket) in the user's runtime directory (checked:
        ours and private, else ContainerError)."""
        from rootless_build.containers.runtimedir import runtime_dir

        return runtime_dir() / "containers" / container_id

    def socket_path(self, container_id: str) -> Path:
        return self.runtime_path(container_id) / "attach.sock"

    # -- locks ----------------------------------------------------------------------------

    def lock(self, container_id: str):
        return locked(self.path(container_id) / "lock")

    def _catalog_lock(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        return locked(self.dir / ".lock")

    # -- records --------------------------------------------------------------------------

    def create(self, container: Container) -> Container:
        """Write a new record; a name is generated when empty, and must be unique."""
        with self._catalog_lock():
            taken = {c.name for c in self.all()}
            if not container.name:
                container.name = names.generate_name(taken)
            elif container.name in taken:
                owner = next(c for c in self.all() if c.name == container.name)
                raise UsageError(f'the container name "{container.name}" is already in use by '
                                 f"{owner.short_id}. You have to remove (or rename) that container "
                                 "to be able to reuse that name")
            folder = self.path(container.id)
            folder.mkdir(mode=0o700)
            for sub in ("upper", "work"):
                (folder / sub).mkdir(mode=0o755)
            self.save(container)
        return container

    def rename(self, container_id: str, new_name: str) -> Container:
        """Give a container another (unique) name, under the lock names are reserved under."""
        with self._catalog_lock():
            current = self.load(container_id)
            if new_name == current.name:
                raise UsageError("Renaming a container with the same name as its current name")
            owner = next((c for c in self.all() if c.name == new_name), None)
            if owner is not None:
                raise UsageError(f'the container name "{new_name}" is already in use by {owner.short_id}. '
                                 "You have to remove (or rename) that container to be able to reuse that name")

            def change(c: Container) -> None:
                c.name = new_name
            return self.update(container_id, change)

    def save(self, container: Container) -> None:
        """Both files: the durable record, then the state."""
        atomic.write_bytes(self.path(container.id) / RECORD, container.to_json(), mode=0o600)
        self.save_state(container)

    def save_state(self, container: Container) -> None:
        """Atomic (temp file + rename) but not fsynced: on the path of every run and exit,
        where an fsync on a busy disk costs more than the whole container start."""
        path = self.path(container.id) / STATE
        tmp = path.with_name(f".{STATE}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, container.state_json())
        finally:
            os.close(fd)
        os.replace(tmp, path)

    def load(self, container_id: str) -> Container:
        folder = self.path(container_id)
        try:
            record = (folder / RECORD).read_bytes()
        except FileNotFoundError:
            raise NoSuchContainer(f"no such container: {container_id}") from None
        try:
            state = (folder / STATE).read_bytes()
        except FileNotFoundError:
            state = None
        try:
            return Container.from_json(record, state)
        except (ValueError, TypeError) as e:
            raise ContainerError(f"container {container_id[:12]}: damaged record ({e})") from None

    def update(self, container_id: str, change: Callable[[Container], None]) -> Container:
        """Load, change and save one record (durably) under its lock; returns it."""
        with self.lock(container_id):
            container = self.load(container_id)
            change(container)
            self.save(container)
            return container

    def update_state(self, container_id: str, change: Callable[[Container], None]) -> Container:
        """As update, for a change of state only (state.json)."""
        with self.lock(container_id):
            container = self.load(container_id)
            change(container)
            self.save_state(container)
            return container

    def ids(self) -> Iterator[str]:
        if not self.dir.is_dir():
            return
        for entry in os.scandir(self.dir):
            if names.is_full_id(entry.name) and os.path.exists(os.path.join(entry.path, RECORD)):
                yield entry.name

    def all(self) -> list[Container]:
        out = []
        for container_id in self.ids():
            try:
                out.append(self.load(container_id))
            except ContainerError:
                continue    # removed meanwhile, or damaged: not listed
        return out

    def lookup(self, text: str) -> Container:
        """By full id, name, or unique id prefix (docker's order)."""
        if names.is_full_id(text) and (self.path(text) / RECORD).exists():
            return self.load(text)
        containers = self.all()
        for c in containers:
            if c.name == text.lstrip("/"):
                return c
        hits = [c for c in containers if text and c.id.startswith(text.lower())]
        if len(hits) > 1:
            raise ContainerError(f"multiple containers match the ID prefix {text}: be more precise")
        if not hits:
            raise NoSuchContainer(f"no such container: {text}")
        return hits[0]

    @contextmanager
    def removing(self, container_id: str) -> Iterator[None]:
        """Held while a container's directory is deleted, so no name lookup sees half of it."""
        with self._catalog_lock():
            yield
