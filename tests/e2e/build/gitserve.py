"""A real `git daemon` on loopback serving a repository made by the test (the `repo`
fixture): main has a.txt and sub/b.txt, tagged v1 (annotated); repo.commit() adds more."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest


def _git(*args, cwd) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example", GIT_CONFIG_NOSYSTEM="1", HOME=str(cwd))
    return subprocess.run(["git", *map(str, args)], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def _commit(work, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    _git("add", "-A", cwd=work)
    _git("commit", "-q", "-m", message, cwd=work)
    return _git("rev-parse", "HEAD", cwd=work)


class Repo:
    def __init__(self, root, url, work):
        self.root, self.url, self.work = root, url, work

    def commit(self, files: dict[str, str], message: str) -> str:
        sha = _commit(self.work, files, message)
        _git("push", "-q", "origin", "main", cwd=self.work)
        return sha


@pytest.fixture(name="repo")
def repo_fixture(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    served = tmp_path / "served"
    served.mkdir()
    bare = served / "repo.git"
    _git("init", "-q", "--bare", "-b", "main", bare, cwd=tmp_path)
    work = tmp_path / "work"
    _git("init", "-q", "-b", "main", work, cwd=tmp_path)
    _git("remote", "add", "origin", bare, cwd=work)
    first = _commit(work, {"a.txt": "a1\n", "sub/b.txt": "b1\n"}, "first")
    _git("tag", "-a", "v1", "-m", "v1", cwd=work)
    _git("push", "-q", "origin", "main", "v1", cwd=work)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    daemon = subprocess.Popen(["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={served}",
                               "--listen=127.0.0.1", f"--port={port}", served],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.02)
        r = Repo(bare, f"git://127.0.0.1:{port}/repo.git", work)
        r.first = first
        yield r
    finally:
        daemon.terminate()
        daemon.wait()
