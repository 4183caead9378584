"""Progress lines without a terminal (docker's format), and the CLI's size parser."""

from __future__ import annotations

import io

import pytest

from rootless_build.cli.registry_cmds import parse_size
from rootless_build.errors import UsageError
from rootless_build.registry.progress import LineProgress, NoProgress, RichProgress, for_terminal


def test_line_progress_prints_each_status_once():
    out = io.StringIO()
    p = LineProgress(out)
    p.message("latest: Pulling from library/busybox")
    p.item("abc", "Pulling fs layer", 10)
    p.item("abc", "Downloading", 10)
    p.advance("abc", 5)
    p.item("abc", "Downloading")
    p.item("abc", "Pull complete")
    p.item("def", "Mounted from team/app")
    p.items_done()
    p.message("Digest: sha256:x")
    assert out.getvalue().splitlines() == [
        "latest: Pulling from library/busybox", "abc: Pulling fs layer", "abc: Pull complete",
        "def: Mounted from team/app", "Digest: sha256:x"]


def test_rich_progress_renders_bars_then_summary():
    out = io.StringIO()
    p = RichProgress(out)
    p.item("abc", "Downloading", 1000)
    p.advance("abc", 500)
    p.item("abc", "Pull complete")
    p.items_done()
    p.message("Status: done")
    p.close()
    text = out.getvalue()
    assert "abc: Pull complete" in text and text.rstrip().endswith("Status: done")


def test_choice_of_display():
    assert isinstance(for_terminal(True, io.StringIO()), NoProgress)
    assert isinstance(for_terminal(False, io.StringIO()), LineProgress)


@pytest.mark.parametrize("text, size", [("1048576", 1 << 20), ("64MiB", 64 << 20), ("64m", 64 << 20),
                                        ("256KiB", 256 << 10), ("1G", 1 << 30), (None, None), ("", None)])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["x", "0", "-1", "1.5M", "3T"])
def test_bad_sizes(text):
    with pytest.raises(UsageError):
        parse_size(text)
