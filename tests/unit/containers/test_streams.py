"""The log file format, the attach protocol frames and the detach key scanner."""

from __future__ import annotations

import threading
import time

import pytest

from rootless_build.containers import protocol
from rootless_build.containers.attach import _KeyScanner
from rootless_build.containers.logfile import LogWriter, read_records


def test_log_round_trip_with_partial_lines(tmp_path) -> None:
    path = tmp_path / "ctr.log"
    log = LogWriter(path)
    log.write(b"stdout", b"one\ntw")
    log.write(b"stderr", b"oops\n")
    log.write(b"stdout", b"o\n\xff binary \x00\n")
    log.close()
    with open(path, "rb") as f:
        records = [(stream, content) for stream, _, content in read_records(f)]
    assert records == [(1, b"one\n"), (1, b"tw"), (2, b"oops\n"), (1, b"o\n"), (1, b"\xff binary \x00\n")]
    assert b"".join(c for s, c in records if s == 1) == b"one\ntwo\n\xff binary \x00\n"
    first = path.read_bytes().split(b"\n")[0]
    assert first.split(b" ")[1:3] == [b"stdout", b"F"] and first.split(b" ")[0].endswith(b"Z")


def test_follow_reads_what_arrives_until_told_to_stop(tmp_path) -> None:
    path = tmp_path / "ctr.log"
    log = LogWriter(path)
    log.write(b"stdout", b"before\n")
    running = threading.Event()
    running.set()

    def writer() -> None:
        time.sleep(0.2)
        log.write(b"stdout", b"during\n")
        time.sleep(0.2)
        log.write(b"stdout", b"last\n")
        running.clear()

    thread = threading.Thread(target=writer)
    thread.start()
    with open(path, "rb") as f:
        got = [content for _, _, content in read_records(f, follow=running.is_set, poll_interval=0.02)]
    thread.join()
    log.close()
    assert got == [b"before\n", b"during\n", b"last\n"]


def test_frames_split_anywhere() -> None:
    data = (protocol.frame(protocol.STDOUT, b"hello") + protocol.frame(protocol.EXIT, b"3")
            + protocol.frame(protocol.RESIZE, protocol.resize_payload(40, 120)))
    reader = protocol.FrameReader()
    frames = []
    for i in range(len(data)):
        frames += list(reader.feed(data[i:i + 1]))
    assert frames[:2] == [(protocol.STDOUT, b"hello"), (protocol.EXIT, b"3")]
    assert protocol.parse_resize(frames[2][1]) == (40, 120)


def test_oversized_frame_is_refused() -> None:
    reader = protocol.FrameReader()
    with pytest.raises(ValueError):
        list(reader.feed(b"i" + (protocol.MAX_PAYLOAD + 1).to_bytes(4, "big")))


def test_detach_keys() -> None:
    scanner = _KeyScanner(b"\x10\x11")
    assert scanner.feed(b"ls\r") == (b"ls\r", False)
    assert scanner.feed(b"\x10") == (b"", False)          # held: could be the start of the sequence
    assert scanner.feed(b"x") == (b"\x10x", False)        # it was not
    assert scanner.feed(b"abc\n\x10") == (b"abc\n", False)
    assert scanner.feed(b"\x11rest") == (b"", True)
