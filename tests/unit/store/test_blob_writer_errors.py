"""The blob writer under real write errors: a file size limit (RLIMIT_FSIZE, set in a
child process) makes the kernel refuse bytes part-way, as a full disk does. The writer
must have hashed exactly the bytes written, end with one StoreError, and keep nothing."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

from rootless_build.store.fserrors import describe_mount, write_error

REPO = Path(__file__).resolve().parents[3]

CHILD = r"""
import hashlib, json, os, resource, signal, sys
from rootless_build.errors import StoreError
from rootless_build.store import Store

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a signal past the limit
store = Store.open(sys.argv[1])
writer = store.blobs.writer()
resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, resource.RLIM_INFINITY))
data = bytes(range(256)) * 4096  # 1 MiB
error = None
try:
    writer.write(data)
except StoreError as e:
    error = str(e)
written = writer.size
size_on_disk = os.path.getsize(writer.tmp_path)
expected = "sha256:" + hashlib.sha256(data[:written]).hexdigest()
hashed = writer._hasher.digest()
writer.abort()
print(json.dumps({"error": error, "written": written, "on_disk": size_on_disk, "hash_ok": hashed == expected,
                  "tmp": os.listdir(store.tmp_dir), "blobs": list(store.blobs.list())}))
"""


def test_a_refused_write_is_not_hashed_and_ends_the_blob(tmp_path):
    import json

    proc = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "store")], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["error"] and "File too large" in report["error"] and "\n" not in report["error"]
    assert report["written"] == report["on_disk"] == 300_000
    assert report["hash_ok"]
    assert report["tmp"] == [] and report["blobs"] == []


def test_a_full_disk_names_the_filesystem_and_its_mount():
    message = str(write_error(OSError(errno.ENOSPC, "No space left on device"), "/proc/self"))
    assert message.startswith("writing to the store: no space left on device on the proc filesystem mounted on /proc")
    quota = str(write_error(OSError(errno.EDQUOT, "Disk quota exceeded"), "/proc/self"))
    assert "disk quota exceeded" in quota


def test_mount_of_the_root_directory_is_found():
    assert "mounted on / " in describe_mount("/")
