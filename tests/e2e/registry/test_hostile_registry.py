"""A hostile registry cannot exhaust our memory: endless or oversized manifests, token
answers and error bodies end the pull with one line, having read only a few MiB."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from reghostile import HostileRegistry

REPO = Path(__file__).resolve().parents[3]
MAX_RSS_KIB = 150 << 10  # the CLI with requests loaded takes ~50 MiB; endless bodies must not add


def pull_measured(store: Path, ref: str, env: dict[str, str | None]) -> tuple[subprocess.CompletedProcess, int]:
    """`pull REF` in a child process; (its result, its peak RSS in KiB from /usr/bin/time)."""
    full = dict(os.environ)
    full["PYTHONPATH"] = str(REPO)
    for key, value in env.items():
        if value is None:
            full.pop(key, None)
        else:
            full[key] = value
    rss_file = store.parent / "rss"
    proc = subprocess.run(["/usr/bin/time", "-o", str(rss_file), "-f", "%M", sys.executable, "-m",
                           "rootless_build", "--root", str(store), "pull", "-q", ref],
                          capture_output=True, text=True, env=full, timeout=120, stdin=subprocess.DEVNULL)
    return proc, int(rss_file.read_text().split()[-1])


@pytest.mark.parametrize("mode,message", [
    ("endless-manifest", "larger than the limit of 4194304 bytes"),
    ("huge-length", "the answer is 10737418240 bytes, more than the limit of 4194304"),
    ("endless-token", "larger than the limit of 1048576 bytes"),
    ("endless-error", "HTTP 404"),
])
def test_endless_answers_end_the_pull_with_bounded_memory(store_root, isolated_env, mode, message):
    hostile = HostileRegistry(mode)
    try:
        proc, rss_kib = pull_measured(store_root, f"{hostile.address}/evil/app:latest", isolated_env)
    finally:
        hostile.close()
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    assert message in lines[0], lines
    assert rss_kib < MAX_RSS_KIB, f"peak RSS {rss_kib} KiB"
    assert hostile.sent < (64 << 20), f"the server poured {hostile.sent} bytes before we hung up"
    assert not [p for p in (store_root / "blobs").rglob("*") if p.is_file()]
