"""Verified blob reads (store/verified.py through DirBlobStore.open): digest and size are
checked when the reader ends or closes, on a real store directory."""

from __future__ import annotations

import os

import pytest

from rootless_build.errors import BlobCorrupt, LayerError
from rootless_build.oci import digest as dg
from rootless_build.store import Store
from rootless_build.store.blobstore import BlobStore

PAYLOAD = os.urandom(3 << 20)  # three buffer-fulls and more


@pytest.fixture
def store(tmp_path):
    return Store.open(tmp_path / "store")


def stored_elsewhere(store: Store, data: bytes) -> str:
    """A blob put in place as another process would (so this process reads it verified)."""
    digest = dg.of_bytes(data)
    path = store.blobs.path(digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest


def corrupt(store: Store, digest: str, offset: int = 12345) -> None:
    with open(store.blobs.path(digest), "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


def test_the_directory_store_is_a_blob_store(store):
    assert isinstance(store.blobs, BlobStore)


def test_a_sound_blob_reads_whole_and_in_pieces(store):
    digest = stored_elsewhere(store, PAYLOAD)
    with store.blobs.open(digest, len(PAYLOAD)) as f:
        assert f.peek(4)[:4] == PAYLOAD[:4]
        assert f.read(10) + f.read() == PAYLOAD
    with store.blobs.open(digest) as f:
        f.read(100)  # closing early reads the rest to check it: no error


def test_a_corrupt_blob_fails_at_the_end_of_the_stream_and_is_removed(store):
    digest = stored_elsewhere(store, PAYLOAD)
    corrupt(store, digest)
    f = store.blobs.open(digest)
    assert len(f.read(1 << 20)) == 1 << 20  # no error before the end
    with pytest.raises(BlobCorrupt, match=f"blob {digest} is corrupt .*removed from the store.*pull"):
        f.read()
    assert not store.blobs.has(digest)
    with pytest.raises(BlobCorrupt, match="removed from the store"):
        f.close()  # the same error again, not a second (wrong) one


def test_a_consumer_that_stops_early_is_checked_on_close(store):
    digest = stored_elsewhere(store, PAYLOAD)
    corrupt(store, digest, offset=len(PAYLOAD) - 10)
    with pytest.raises(BlobCorrupt):
        with store.blobs.open(digest) as f:
            f.read(1000)


def test_a_parse_error_caused_by_corruption_becomes_blob_corrupt(store):
    digest = stored_elsewhere(store, PAYLOAD)
    corrupt(store, digest, offset=10)
    with pytest.raises(BlobCorrupt) as caught:
        with store.blobs.open(digest) as f:
            f.read(100)
            raise LayerError("malformed layer tar")
    assert isinstance(caught.value.__context__, LayerError)


def test_an_interrupt_does_not_read_the_rest(store):
    digest = stored_elsewhere(store, PAYLOAD)
    corrupt(store, digest)
    with pytest.raises(KeyboardInterrupt):
        with store.blobs.open(digest) as f:
            f.read(10)
            raise KeyboardInterrupt
    assert store.blobs.has(digest)  # not read to the end, so not judged


@pytest.mark.parametrize("declared", [len(PAYLOAD) - 1, len(PAYLOAD) + 1])
def test_size_is_checked_when_given(store, declared):
    digest = stored_elsewhere(store, PAYLOAD)
    with pytest.raises(BlobCorrupt, match="bytes"):
        with store.blobs.open(digest, declared) as f:
            f.read()
    assert store.blobs.has(digest)  # the bytes match their name: the descriptor is wrong


def test_a_blob_this_process_wrote_is_not_hashed_again(store):
    digest = store.blobs.put_bytes(PAYLOAD)
    corrupt(store, digest)  # (after writing: what a re-read in the same process would miss)
    with store.blobs.open(digest) as f:
        assert len(f.read()) == len(PAYLOAD)  # no BlobCorrupt: not verified
    with store.blobs.open_raw(digest) as f:
        f.seek(5)
        assert len(f.read(5)) == 5
