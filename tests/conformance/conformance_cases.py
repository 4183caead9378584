"""The conformance cases: one folder each under testdata/conformance/<category>/<case>/
holding a Dockerfile, an optional .dockerignore, an optional context/ tree and case.json:

    reference    "buildkit" (default) or "classic": which of Docker's builders is the
                 reference; "golden": Docker 20.10 cannot build it, `expect` is the answer
    build_args   {"K": "V"}        target   "stage"        ours_args  extra flags for ours
    setup        what git cannot hold: {"modes": {path: "0600"}, "dirs": [path],
                 "symlinks": {path: target}, "hardlinks": {path: target},
                 "tars": {name: {"compression": "gzip"|"",
                 "members": [{"name", "type": file|dir|symlink|hardlink, "content", "target", "mode"}]}}}
    error        expected failure: a regex our one-line error must match (Docker must fail too)
    http         files an HTTP server on 127.0.0.1 serves for the case ({path: text}, dated
                 INPUT_MTIME); the build arg HTTP holds the base URL for `ADD $HTTP/path`
    expect       golden cases: {"image": {top-level field: value}, "config": {field: value},
                 "files": {path: {field: value}}, "absent": [path]}
    difference   a difference we keep on purpose: the docs/compat.md entry that explains it
                 (the case is an expected failure while the difference shows)
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

CASES = Path(__file__).resolve().parents[2] / "testdata" / "conformance"
INPUT_MTIME = 1_600_000_000  # every input file's time: long before any build starts


@dataclass(frozen=True)
class Case:
    category: str
    name: str
    directory: Path
    spec: dict = field(hash=False, compare=False)

    @property
    def slug(self) -> str:
        return f"{self.category}-{self.name}".lower()

    @property
    def reference(self) -> str:
        return self.spec.get("reference", "buildkit")

    def __str__(self) -> str:
        return f"{self.category}/{self.name}"


def all_cases() -> list[Case]:
    out = []
    for spec_file in sorted(CASES.glob("*/*/case.json")):
        directory = spec_file.parent
        out.append(Case(directory.parent.name, directory.name, directory, json.loads(spec_file.read_text())))
    return out


def materialize(case: Case, into: Path) -> Path:
    """The case's build context in a fresh directory, every input at INPUT_MTIME."""
    context = into / "context"
    source = case.directory / "context"
    if source.is_dir():
        shutil.copytree(source, context, symlinks=True)
    else:
        context.mkdir(parents=True)
    shutil.copy(case.directory / "Dockerfile", context / "Dockerfile")
    if (case.directory / ".dockerignore").exists():
        shutil.copy(case.directory / ".dockerignore", context / ".dockerignore")
    setup = case.spec.get("setup", {})
    for path in setup.get("dirs", []):
        (context / path).mkdir(parents=True, exist_ok=True)
    for path, target in setup.get("symlinks", {}).items():
        (context / path).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, context / path)
    for path, target in setup.get("hardlinks", {}).items():
        os.link(context / target, context / path)
    for name, archive in setup.get("tars", {}).items():
        _write_tar(context / name, archive)
    for dirpath, dirnames, filenames in os.walk(context):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (INPUT_MTIME, INPUT_MTIME), follow_symlinks=False)
    for path, mode in setup.get("modes", {}).items():
        os.chmod(context / path, int(mode, 8))
    os.utime(context, (INPUT_MTIME, INPUT_MTIME))
    return context


def serve_files(case: Case, root: Path) -> None:
    """The case's `http` files under root/<slug>/ (the server's document root is root)."""
    for path, text in case.spec.get("http", {}).items():
        target = root / case.slug / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        os.utime(target, (INPUT_MTIME, INPUT_MTIME))


def _write_tar(path: Path, archive: dict) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in archive["members"]:
            info = tarfile.TarInfo(member["name"])
            info.mtime = member.get("mtime", INPUT_MTIME - 1000)
            info.uid, info.gid = member.get("uid", 0), member.get("gid", 0)
            kind = member.get("type", "file")
            data = member.get("content", "").encode()
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, int(member.get("mode", "0755"), 8)
            elif kind == "symlink":
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, member["target"], 0o777
            elif kind == "hardlink":
                info.type, info.linkname, info.mode = tarfile.LNKTYPE, member["target"], 0o644
            else:
                info.mode, info.size = int(member.get("mode", "0644"), 8), len(data)
            tar.addfile(info, io.BytesIO(data) if kind == "file" else None)
    data = raw.getvalue()
    if archive.get("compression") == "gzip":
        data = gzip.compress(data, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
