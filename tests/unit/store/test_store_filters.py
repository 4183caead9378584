"""--filter parsing (store/filters.py): docker's keys and messages, label matching, until."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rootless_build.errors import UsageError
from rootless_build.store.filters import Filters, parse_until


def test_values_of_one_key_are_kept_together() -> None:
    f = Filters.parse(["label=a", "status=running", "label=b=2"], ("label", "status"))
    assert f.get("label") == ["a", "b=2"] and f.get("status") == ["running"] and "name" not in f


@pytest.mark.parametrize("arg, message", [("bogus=1", "Invalid filter 'bogus'"),
                                          ("novalue", "bad format of filter (expected name=value)"),
                                          ("=x", "bad format of filter (expected name=value)")])
def test_refused(arg, message) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Filters.parse([arg], ("label",))


def test_labels_all_must_hold_and_negated_labels_exclude() -> None:
    f = Filters.parse(["label=a", "label=b=2", "label!=c=3"], ("label", "label!"))
    assert f.labels_match({"a": "x", "b": "2"}) and not f.labels_match({"a": "x", "b": "1"})
    assert not f.labels_match({"b": "2"})
    assert f.labels_exclude({"c": "4"}) and not f.labels_exclude({"c": "3"})


def test_boolean() -> None:
    assert Filters.parse(["dangling=true"], ("dangling",)).boolean("dangling") is True
    assert Filters.parse(["dangling=0"], ("dangling",)).boolean("dangling") is False
    assert Filters({}).boolean("dangling") is None
    with pytest.raises(UsageError, match="Invalid filter 'dangling=maybe'"):
        Filters.parse(["dangling=maybe"], ("dangling",)).boolean("dangling")


@pytest.mark.parametrize("text, seconds_ago", [("10m", 600), ("1h30m", 5400), ("2.5s", 2.5), ("0s", 0)])
def test_until_durations(text, seconds_ago) -> None:
    assert parse_until(text, now=10_000.0) == datetime.fromtimestamp(10_000.0 - seconds_ago, UTC)


def test_until_timestamps() -> None:
    assert parse_until("1700000000") == datetime.fromtimestamp(1_700_000_000, UTC)
    assert parse_until("2024-01-02T03:04:05Z") == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_until("2024-01-02") == datetime(2024, 1, 2, tzinfo=UTC)
    with pytest.raises(UsageError, match="until=yesterday"):
        parse_until("yesterday")
