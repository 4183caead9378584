"""Container records on disk: ids, generated names, unique names, lookup, atomic updates."""

from __future__ import annotations

import json
import os

import pytest

from rootless_build.containers import names
from rootless_build.containers.catalog import Catalog, NoSuchContainer
from rootless_build.containers.record import Container, Mount, RunConfig, now_iso
from rootless_build.errors import ContainerError, UsageError


def _container(name: str = "", container_id: str | None = None) -> Container:
    return Container(id=container_id or names.new_id(), name=name, image="localhost:5000/busybox:latest",
                     image_id="sha256:" + "a" * 64, manifest_digest="sha256:" + "b" * 64, created=now_iso(),
                     config=RunConfig(argv=["sh"], mounts=[Mount("/tmp", "/data", readonly=True)]))


@pytest.fixture
def catalog(tmp_path) -> Catalog:
    return Catalog(tmp_path / "containers")


def test_ids_are_64_hex_and_shown_as_12() -> None:
    ids = {names.new_id() for _ in range(100)}
    assert len(ids) == 100
    for container_id in ids:
        assert names.is_full_id(container_id)
        assert names.short_id(container_id) == container_id[:12]


def test_generated_names_are_adjective_surname_and_avoid_taken() -> None:
    taken: set[str] = set()
    for _ in range(300):
        name = names.generate_name(taken)
        assert name not in taken
        assert names.is_valid_name(name)
        assert "_" in name and name != "boring_wozniak"
        taken.add(name)


@pytest.mark.parametrize("name, valid", [("box", True), ("my-box.1_x", True), ("/box", True),
                                         ("-box", False), ("bad name", False), ("", False)])
def test_valid_names(name: str, valid: bool) -> None:
    assert names.is_valid_name(name) is valid


def test_record_round_trip_keeps_the_fields_the_store_reads(catalog: Catalog) -> None:
    c = catalog.create(_container("box"))
    raw = json.loads((catalog.path(c.id) / "container.json").read_bytes())
    assert (raw["id"], raw["name"], raw["manifest_digest"]) == (c.id, "box", "sha256:" + "b" * 64)
    loaded = catalog.load(c.id)
    assert loaded == c
    assert loaded.config.mounts == [Mount("/tmp", "/data", readonly=True)]
    assert (catalog.path(c.id) / "upper").is_dir() and (catalog.path(c.id) / "work").is_dir()


def test_record_from_a_newer_version_still_loads(catalog: Catalog) -> None:
    c = catalog.create(_container("box"))
    path = catalog.path(c.id) / "container.json"
    raw = json.loads(path.read_bytes())
    raw["future_field"] = 1
    path.write_text(json.dumps(raw))
    state = catalog.path(c.id) / "state.json"
    state.write_text(json.dumps({**json.loads(state.read_bytes()), "future_state": "x"}))
    assert catalog.load(c.id).name == "box"


def test_state_is_kept_apart_and_survives_its_own_loss(catalog: Catalog) -> None:
    c = catalog.create(_container("box"))

    def running(container: Container) -> None:
        container.state.status = "running"

    catalog.update_state(c.id, running)
    assert "state" not in json.loads((catalog.path(c.id) / "container.json").read_bytes())
    assert json.loads((catalog.path(c.id) / "state.json").read_bytes())["status"] == "running"
    (catalog.path(c.id) / "state.json").write_text("")       # a crash before it reached the disk
    assert catalog.load(c.id).state.status == "created"
    (catalog.path(c.id) / "state.json").unlink()
    assert catalog.load(c.id).name == "box"


def test_name_generated_when_absent_and_unique(catalog: Catalog) -> None:
    first = catalog.create(_container())
    assert first.name and names.is_valid_name(first.name)
    catalog.create(_container("box"))
    with pytest.raises(UsageError, match='name "box" is already in use'):
        catalog.create(_container("box"))
    assert sorted(c.name for c in catalog.all()) == sorted([first.name, "box"])


def test_lookup_by_id_name_and_prefix(catalog: Catalog) -> None:
    a = catalog.create(_container("alpha", "abc" + "0" * 61))
    b = catalog.create(_container("beta", "abd" + "0" * 61))
    assert catalog.lookup(a.id).name == "alpha"
    assert catalog.lookup("beta").id == b.id
    assert catalog.lookup("/beta").id == b.id
    assert catalog.lookup("abc").id == a.id
    with pytest.raises(ContainerError, match="multiple containers"):
        catalog.lookup("ab")
    with pytest.raises(NoSuchContainer, match="no such container: gamma"):
        catalog.lookup("gamma")


def test_update_is_atomic_and_leaves_no_temp_files(catalog: Catalog) -> None:
    c = catalog.create(_container("box"))

    def change(container: Container) -> None:
        container.state.status = "running"
        container.state.pid = 42

    catalog.update(c.id, change)
    assert catalog.load(c.id).state.pid == 42
    leftovers = [n for n in os.listdir(catalog.path(c.id)) if n.endswith(".tmp")]
    assert leftovers == []


def test_damaged_record_is_one_line_error_and_not_listed(catalog: Catalog) -> None:
    good = catalog.create(_container("good"))
    bad = catalog.create(_container("bad"))
    (catalog.path(bad.id) / "container.json").write_text("{not json")
    with pytest.raises(ContainerError, match="damaged record"):
        catalog.load(bad.id)
    assert [c.id for c in catalog.all()] == [good.id]
