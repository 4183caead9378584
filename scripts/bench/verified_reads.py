"""What verified blob reads cost: one blob (default 500 MiB, incompressible) read through
the store's verified reader (digest checked at the end) and through a plain reader, each
from the page cache, best of N. Usage: python scripts/bench/verified_reads.py [MiB] [N]."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from rootless_build.store import Store

CHUNK = 1 << 20


def main() -> None:
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        store = Store.open(Path(tmp) / "store")
        with store.blobs.writer() as w:
            for _ in range(mib):
                w.write(os.urandom(CHUNK))
            digest = w.commit()
        store.blobs._fresh.clear()  # read as another process would: verified
        results = {}
        for name, opener in (("plain", store.blobs.open_raw), ("verified", store.blobs.open)):
            best = float("inf")
            for _ in range(rounds):
                start = time.perf_counter()
                with opener(digest) as f:
                    while f.read(CHUNK):
                        pass
                best = min(best, time.perf_counter() - start)
            results[name] = best
        print(f"{mib} MiB blob, best of {rounds}: plain read {results['plain']:.3f} s, "
              f"verified read {results['verified']:.3f} s "
              f"(+{results['verified'] - results['plain']:.3f} s)")


if __name__ == "__main__":
    main()
