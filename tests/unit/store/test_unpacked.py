"""Unpacked layers are trusted within the boot that made them, extracted again after."""

from __future__ import annotations

import io
import tarfile

import pytest

from rootless_build.store import Store
from rootless_build.store.boot import boot_id
from rootless_build.store.unpacked import ensure_unpacked


def _layer(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.uid, info.gid = len(data), 0o644, 0, 0
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.fixture
def unpacked(tmp_path):
    if not boot_id():
        pytest.skip("no /proc/sys/kernel/random/boot_id")
    store = Store.open(tmp_path / "store")
    digest = store.blobs.put_bytes(_layer({"etc/greeting": b"hello\n"}))
    [path] = ensure_unpacked(store, [digest], [digest])
    return store, digest, path


def test_a_layer_is_unpacked_once_per_boot(unpacked):
    store, digest, path = unpacked
    assert (path / "etc/greeting").read_bytes() == b"hello\n"
    assert (path.parent / "complete").read_text() == boot_id()
    (path / "etc/greeting").write_bytes(b"")        # what a crash can leave behind
    assert ensure_unpacked(store, [digest], [digest]) == [path]
    assert (path / "etc/greeting").read_bytes() == b""  # same boot: the page cache is the truth


@pytest.mark.parametrize("stamp", ["0f0e0d0c-another-boot", ""])
def test_a_layer_unpacked_in_another_boot_is_extracted_again(unpacked, stamp):
    store, digest, path = unpacked
    (path / "etc/greeting").write_bytes(b"")
    (path / "etc/stray").write_bytes(b"x")
    (path.parent / "complete").write_text(stamp)   # another boot, or a marker a crash emptied
    assert not store.is_unpacked(digest)
    assert ensure_unpacked(store, [digest], [digest]) == [path]
    assert (path / "etc/greeting").read_bytes() == b"hello\n"
    assert not (path / "etc/stray").exists()
    assert store.is_unpacked(digest)
