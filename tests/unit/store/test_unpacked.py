"""Unpacked layers are trusted within the boot that made them, extracted again after."""

from __future__ import annotations

import io
import tarfile

import pytest

from rootless_build.store import Store
from rootless_build.store.boot import boot_id
from rootless_build.store.unpacked import ensure_unpacked, flat_lowers, flat_path, is_flat


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


# --- flat trees (vfs): whiteouts applied as deletions, nothing of overlay's on disk ------------

def _tar(entries: list[tuple[str, bytes | None]]) -> bytes:
    """Files (bytes) and directories (None), in order."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.uid = info.gid = 0
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _all_entries(root) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_a_flat_tree_applies_whiteouts_and_opaque_dirs_as_deletions(tmp_path):
    if not boot_id():
        pytest.skip("no /proc/sys/kernel/random/boot_id")
    store = Store.open(tmp_path / "store")
    bottom = store.blobs.put_bytes(_tar([("bin", None), ("bin/sh", b"sh"), ("bin/vi", b"vi"),
                                         ("opq", None), ("opq/old", b"o")]))
    top = store.blobs.put_bytes(_tar([("bin/.wh.vi", b""), ("opq/.wh..wh..opq", b""), ("opq/new", b"n"),
                                      ("data", None), ("data/f", b"hi")]))
    assert flat_lowers(store, [], []) == []
    [base] = flat_lowers(store, [bottom], [bottom])
    assert _all_entries(base) == {"bin", "bin/sh", "bin/vi", "opq", "opq/old"}
    [flat] = flat_lowers(store, [bottom, top], [bottom, top])
    assert flat == flat_path(store, top) and is_flat(store, top)
    assert _all_entries(flat) == {"bin", "bin/sh", "opq", "opq/new", "data", "data/f"}
    assert (flat / "data/f").read_bytes() == b"hi"
    assert _all_entries(base) == {"bin", "bin/sh", "bin/vi", "opq", "opq/old"}   # a copy was changed


def test_a_flat_tree_is_made_from_the_blobs_when_none_below_is_there(tmp_path):
    if not boot_id():
        pytest.skip("no /proc/sys/kernel/random/boot_id")
    store = Store.open(tmp_path / "store")
    bottom = store.blobs.put_bytes(_tar([("a", b"a"), ("b", b"b")]))
    top = store.blobs.put_bytes(_tar([(".wh.a", b""), ("c", b"c")]))
    [flat] = flat_lowers(store, [bottom, top], [bottom, top])
    assert _all_entries(flat) == {"b", "c"}
    assert not is_flat(store, bottom)       # only the tree asked for is kept
    assert not [p for p in flat.parent.iterdir() if p.name.startswith("unpack-")]
