"""Run inside `unshare --user --map-root-user --mount`: mount a small tmpfs, pull into a
store on it, and report (as JSON on stdout) what each command did and what the store holds.

usage: fulldisk_driver.py MOUNTPOINT SIZE REF_THAT_FITS REF_THAT_DOES_NOT TARBALL_THAT_DOES_NOT"""

from __future__ import annotations

import json
import os
import subprocess
import sys

mountpoint, size, small, big, tarball = sys.argv[1:6]
subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "none", mountpoint], check=True)
store = os.path.join(mountpoint, "store")


def rb(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "rootless_build", "--root", store, *args],
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    return {"rc": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}


def files(sub: str) -> list[str]:
    out = []
    for dirpath, _, names in os.walk(os.path.join(store, sub)):
        out += [os.path.relpath(os.path.join(dirpath, n), store) for n in names]
    return sorted(out)


report = {"pull_small": rb("pull", "-q", small)}
report["blobs_before"] = files("blobs")
report["pull_big"] = rb("pull", big)
report["blobs_after"] = files("blobs")
report["tmp_after"] = files("tmp")
report["import_big"] = rb("import", tarball, "big:1")
report["tmp_after_import"] = files("tmp")
report["blobs_after_import"] = files("blobs")
report["images"] = rb("images", "--format", "{{.Repository}}:{{.Tag}}")
report["fsck"] = rb("fsck")
report["run_small"] = rb("inspect", "--format", "{{.Id}}", small)
json.dump(report, sys.stdout)
