"""Fixtures for build unit tests: a real store in a temp dir and a small base image."""

from __future__ import annotations

from pathlib import Path

import pytest
from imagehelpers import BASE_LAYER, make_image

from rootless_build.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "store")


@pytest.fixture
def base_image(store: Store):
    """A small image: /etc with passwd and group, /tmp 1777, /bin -> usr/bin."""
    return make_image(store, [BASE_LAYER], {"Env": ["PATH=/usr/bin:/bin"]}, tag="base:1")
