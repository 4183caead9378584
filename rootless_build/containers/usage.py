"""Which images containers stand on, read from the container records: the roots GC keeps
and the conflicts rmi reports. The store is handed the answer (store/remove.py, gc.py)
and never parses container records itself."""

from __future__ import annotations

from rootless_build.containers.catalog import Catalog, NoSuchContainer
from rootless_build.errors import ContainerError
from rootless_build.store.remove import ContainerUse


def images_in_use(catalog: Catalog) -> dict[str, list[ContainerUse]]:
    """Manifest digest -> the containers created from it. A record that cannot be read
    raises: the image under it is unknown, and GC must not free it."""
    out: dict[str, list[ContainerUse]] = {}
    for container_id in sorted(catalog.ids()):
        try:
            container = catalog.load(container_id)
        except NoSuchContainer:
            continue  # removed meanwhile
        except ContainerError as e:
            raise ContainerError(f"{e}: the image it uses is unknown, so no image is removed; remove "
                                 f"{catalog.path(container_id)} to go on") from None
        if container.manifest_digest:
            out.setdefault(container.manifest_digest, []).append(ContainerUse(container.id, container.name))
    return out
