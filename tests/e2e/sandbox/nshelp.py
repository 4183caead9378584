"""Helpers for the test code that runs *inside* the user namespace (see conftest.in_ns).

The inner code prints one JSON result line with emit(); the test reads it back.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from rootless_build.sandbox.lowerview import is_opaque
from rootless_build.sandbox.step import StepSpec, run_step

RESULT_MARK = "@@RESULT@@ "


def emit(obj) -> None:
    sys.stdout.write(RESULT_MARK + json.dumps(obj) + "\n")
    sys.stdout.flush()


def extract(tar: str | Path, dest: str | Path) -> Path:
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-xpf", str(tar), "-C", str(dest), "--numeric-owner"], check=True)
    return dest


def make_layer(root: str | Path, entries: dict) -> Path:
    """entries: path -> str (file content), None (directory), or (content, uid, gid)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for rel, spec in entries.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        owner = None
        if isinstance(spec, tuple):
            spec, *owner = spec
        if spec is None:
            path.mkdir(exist_ok=True)
        else:
            path.write_text(spec)
        if owner:
            os.lchown(path, *owner)
    return root


def _type(st: os.stat_result) -> str:
    mode = st.st_mode
    for test, name in ((stat.S_ISDIR, "d"), (stat.S_ISREG, "f"), (stat.S_ISLNK, "l"),
                       (stat.S_ISCHR, "c"), (stat.S_ISBLK, "b"), (stat.S_ISFIFO, "p")):
        if test(mode):
            return name
    return "?"


def listing(root: str | Path) -> dict:
    """relative path -> type, mode, owner, device, mtime and opaque mark, for every entry."""
    root = Path(root)
    result = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(dirpath) / name
            st = os.lstat(path)
            rel = str(path.relative_to(root))
            result[rel] = {"type": _type(st), "mode": st.st_mode & 0o7777, "uid": st.st_uid,
                           "gid": st.st_gid, "rdev": st.st_rdev, "mtime": st.st_mtime_ns,
                           "opaque": stat.S_ISDIR(st.st_mode) and is_opaque(path)}
    return result


def step(lowerdirs, upperdir, workdir, argv, stream: bool = False, **kwargs) -> dict:
    """run_step with the output captured (and, with stream=True, passed on to our stdout as
    it comes); returns exit_code, last_lines and output."""
    chunks: list[bytes] = []

    def output(chunk: bytes) -> None:
        chunks.append(chunk)
        if stream:
            sys.stdout.buffer.write(chunk)
            sys.stdout.flush()

    for d in (upperdir, workdir):
        Path(d).mkdir(parents=True, exist_ok=True)
    spec = StepSpec(lowerdirs=[Path(p) for p in lowerdirs], upperdir=Path(upperdir),
                    workdir=Path(workdir), argv=list(argv), output=output, **kwargs)
    result = run_step(spec)
    return {"exit_code": result.exit_code, "last_lines": result.last_lines,
            "output": b"".join(chunks).decode(errors="replace")}


def mountinfo() -> list[str]:
    return Path("/proc/self/mountinfo").read_text().splitlines()
