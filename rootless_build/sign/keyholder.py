"""A sigstore private key unlocked away from the command's critical path.

Unlocking a cosign key costs its scrypt (N=32768 r=8, fixed by the key format: ~75 ms) plus
the imports of PyNaCl and cryptography (~35 ms), all CPU. `unlock_in_background` starts it
as soon as a command knows its key: in a forked child while the process has no other thread
(an interpreter of its own: imports and scrypt run on another core beside the command's
imports and round trips, and the private key never enters the command's process; the child
signs the payloads sent to it over a pipe), else on a daemon thread (the scrypt releases
the GIL, the imports do not).
"""

from __future__ import annotations

import os
import struct
import threading

from rootless_build.errors import SignatureError
from rootless_build.sign import sigstore_keys

_HEADER = struct.Struct(">cI")  # kind, length
_MAX_MESSAGE = 1 << 20           # a payload or an error message is a few hundred bytes


def unlock_in_background(key_path: str, passphrase_file: str | None) -> KeyProcess | KeyThread:
    """Start unlocking the key file `key_path`; the files are read here, so a missing one
    fails now, in the caller."""
    try:
        with open(key_path, "rb") as f:
            pem = f.read()
        passphrase = sigstore_keys.read_passphrase(passphrase_file)
    except OSError as e:
        raise SignatureError(f"{e.filename or key_path}: {e.strerror}") from None
    if threading.active_count() == 1:  # fork only a process whose one thread is this one
        return KeyProcess(pem, passphrase, key_path)
    return KeyThread(pem, passphrase, key_path)


class KeyThread:
    """The key unlocked on a daemon thread (a failed command does not wait for it)."""

    def __init__(self, pem: bytes, passphrase: bytes, where: str):
        self._key = None
        self._error: SignatureError | None = None
        self._thread = threading.Thread(target=self._run, args=(pem, passphrase, where), name="unlock", daemon=True)
        self._thread.start()

    def _run(self, pem: bytes, passphrase: bytes, where: str) -> None:
        try:
            self._key = sigstore_keys.load_private(pem, passphrase, where)
        except SignatureError as e:
            self._error = e

    def result(self) -> KeyThread:
        """Self, once the key is unlocked; SignatureError if it cannot be."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self

    def sign(self, payload: bytes) -> str:
        return sigstore_keys.sign(self.result()._key, payload)

    def close(self) -> None:
        pass


class KeyProcess:
    """The key unlocked, and used, in a forked child answering sign requests on a pipe."""

    def __init__(self, pem: bytes, passphrase: bytes, where: str):
        self.where = where
        child_in, self._to_child = os.pipe()
        self._from_child, child_out = os.pipe()
        self._pid = os.fork()
        if self._pid == 0:  # the child: never returns
            code = 1
            try:
                _close_fds_but(child_in, child_out)
                _serve(pem, passphrase, where, child_in, child_out)
                code = 0
            finally:
                os._exit(code)
        os.close(child_in)
        os.close(child_out)
        self._unlocked: bool | None = None

    def result(self) -> KeyProcess:
        """Self, once the child unlocked the key; SignatureError if it cannot be."""
        if self._unlocked is None:
            kind, body = self._answer()
            self._unlocked = kind == b"K"
            self._failure = body.decode("utf-8", "replace")
        if not self._unlocked:
            raise SignatureError(self._failure)
        return self

    def sign(self, payload: bytes) -> str:
        self.result()
        try:
            _send(self._to_child, b"P", payload)
        except OSError:
            raise SignatureError(f"{self.where}: the signing helper process ended") from None
        kind, body = self._answer()
        if kind != b"S":
            raise SignatureError(body.decode("utf-8", "replace"))
        return body.decode()

    def close(self) -> None:
        """End the child (it exits on end of input) and reap it."""
        if self._pid:
            os.close(self._to_child)
            os.close(self._from_child)
            os.waitpid(self._pid, 0)
            self._pid = 0

    def _answer(self) -> tuple[bytes, bytes]:
        message = _receive(self._from_child)
        if message is None:
            return b"E", f"{self.where}: unlocking the key failed (the helper process ended)".encode()
        return message


def _serve(pem: bytes, passphrase: bytes, where: str, fd_in: int, fd_out: int) -> None:
    try:
        key = sigstore_keys.load_private(pem, passphrase, where)
    except SignatureError as e:
        _send(fd_out, b"E", str(e).encode())
        return
    _send(fd_out, b"K", b"")
    while (message := _receive(fd_in)) is not None:
        _send(fd_out, b"S", sigstore_keys.sign(key, message[1]).encode())


def _send(fd: int, kind: bytes, body: bytes) -> None:
    data = _HEADER.pack(kind, len(body)) + body
    while data:
        data = data[os.write(fd, data):]


def _receive(fd: int) -> tuple[bytes, bytes] | None:
    """One message, or None at end of input."""
    header = _read_exactly(fd, _HEADER.size)
    if header is None:
        return None
    kind, length = _HEADER.unpack(header)
    if length > _MAX_MESSAGE:
        return None
    body = _read_exactly(fd, length)
    return None if body is None else (kind, body)


def _read_exactly(fd: int, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _close_fds_but(*keep: int) -> None:
    """The child holds no descriptor of the command's (a lock, a socket) but its pipes."""
    start = 3
    for fd in sorted(keep):
        os.closerange(start, fd)
        start = fd + 1
    os.closerange(start, os.sysconf("SC_OPEN_MAX"))
