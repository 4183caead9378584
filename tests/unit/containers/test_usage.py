"""containers/usage.py: the images containers stand on, the roots GC is handed."""

from __future__ import annotations

import pytest

from rootless_build.containers.catalog import Catalog
from rootless_build.containers.record import Container
from rootless_build.containers.usage import images_in_use
from rootless_build.errors import ContainerError
from rootless_build.store.remove import ContainerUse

DIGEST = "sha256:" + "ab" * 32


def _record(catalog: Catalog, cid: str, name: str, digest: str = DIGEST) -> None:
    folder = catalog.path(cid)
    folder.mkdir(parents=True)
    (folder / "container.json").write_bytes(Container(
        id=cid, name=name, image="app", image_id="sha256:" + "cd" * 32, manifest_digest=digest,
        created="2024-01-01T00:00:00Z").to_json())


def test_containers_are_grouped_by_the_image_they_use(tmp_path):
    catalog = Catalog(tmp_path / "containers")
    assert images_in_use(catalog) == {}
    _record(catalog, "1" * 64, "one")
    _record(catalog, "2" * 64, "two")
    (catalog.path("3" * 64)).mkdir()  # being created: no record yet
    assert images_in_use(catalog) == {DIGEST: [ContainerUse("1" * 64, "one"), ContainerUse("2" * 64, "two")]}


def test_an_unreadable_record_stops_the_caller(tmp_path):
    catalog = Catalog(tmp_path / "containers")
    _record(catalog, "1" * 64, "one")
    (catalog.path("1" * 64) / "container.json").write_text("{not json")
    with pytest.raises(ContainerError, match="damaged record.*no image is removed") as caught:
        images_in_use(catalog)
    assert "\n" not in str(caught.value)
