"""rootless_build.record: the value classes of the start-up path behave like frozen dataclasses."""

from __future__ import annotations

from typing import ClassVar

import pytest

from rootless_build.record import MISSING, Record, asdict, default_of, field, fields, replace


class Base(Record, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "BASE"
    line: int
    escape: str = "\\"


class Child(Base, frozen=True):
    args: tuple[str, ...]
    shell: bool = True
    notes: list[str] = field(factory=list)


class Mutable(Record):
    name: str
    items: dict = field(factory=dict)


def test_fields_in_declaration_order_bases_first_classvars_excluded():
    assert fields(Child) == ("line", "escape", "args", "shell", "notes")
    assert Child.keyword == "BASE"


def test_positional_fields_are_the_non_kw_only_ones():
    c = Child(("a",), False, line=3)
    assert (c.args, c.shell, c.line, c.escape, c.notes) == (("a",), False, 3, "\\", [])
    with pytest.raises(TypeError, match="positional"):
        Base(3)
    with pytest.raises(TypeError, match="missing argument 'line'"):
        Child(("a",))
    with pytest.raises(TypeError, match="twice"):
        Child(("a",), args=("b",), line=1)
    with pytest.raises(TypeError, match="unexpected arguments: colour"):
        Child((), line=1, colour="red")


def test_factory_defaults_are_fresh_per_record():
    one, two = Child((), line=1), Child((), line=1)
    one.notes.append("x")
    assert two.notes == []
    assert default_of(Child, "notes") == [] and default_of(Child, "escape") == "\\"
    assert default_of(Child, "line") is MISSING


def test_frozen_records_refuse_changes_and_hash_by_value():
    c = Child(("a",), line=1, notes=None)
    with pytest.raises(AttributeError, match="immutable"):
        c.line = 2
    with pytest.raises(AttributeError):
        del c.line
    assert hash(c) == hash(Child(("a",), line=1, notes=None))
    assert len({c, Child(("a",), line=1, notes=None)}) == 1


def test_equality_needs_the_same_class_and_values():
    assert Child((), line=1) == Child((), line=1)
    assert Child((), line=1) != Child((), line=2)
    assert Base(line=1) != Child((), line=1)
    assert Child((), line=1) != ("line", 1)


def test_mutable_records_can_change_and_are_unhashable():
    m = Mutable("a")
    m.name = "b"
    m.items["k"] = 1
    assert asdict(m) == {"name": "b", "items": {"k": 1}}
    with pytest.raises(TypeError):
        hash(m)


def test_replace_copies_and_checks_names():
    c = Child(("a",), line=1)
    d = replace(c, line=7)
    assert (d.line, d.args, c.line) == (7, ("a",), 1)
    assert type(d) is Child
    with pytest.raises(TypeError, match="no field colour"):
        replace(c, colour="red")


def test_repr_names_every_field():
    assert repr(Mutable("a")) == "Mutable(name='a', items={})"
