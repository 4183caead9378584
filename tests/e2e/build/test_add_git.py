"""ADD of a git repository served by a real `git daemon` on loopback: at a tag and a
subdirectory, at the default branch, with --keep-git-dir and --checksum; the cache is
keyed on the commit (a new commit on the branch rebuilds that ADD, the tag's stays cached)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest

FROM = "FROM localhost:5000/busybox:latest\n"


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


@pytest.fixture
def repo(tmp_path):
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


def test_add_git_ref_subdir_keep_and_checksum(rb, busybox, repo, inspect, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(FROM + f"""\
ADD {repo.url}#v1:sub /tagged/
ADD {repo.url} /head/
ADD --keep-git-dir=true {repo.url}#main /kept/
ADD --checksum={repo.first} {repo.url}#v1 /checked/
""")
    done = rb("build", "-t", "git:1", ctx)
    assert done.returncode == 0, done.stderr
    root = inspect.unpack("git:1", tmp_path / "b1")
    assert (root / "tagged" / "b.txt").read_text() == "b1\n"
    assert not (root / "tagged" / "a.txt").exists()
    assert (root / "head" / "a.txt").read_text() == "a1\n" and not (root / "head" / ".git").exists()
    assert (root / "kept" / ".git" / "HEAD").read_text().strip() == repo.first
    assert (root / "checked" / "sub" / "b.txt").read_text() == "b1\n"

    # a new commit on main: the ADDs that follow the branch are rebuilt, the tag's is cached
    second = repo.commit({"a.txt": "a2\n"}, "second")
    again = rb("build", "-t", "git:2", ctx)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("Using cache") == 1
    root = inspect.unpack("git:2", tmp_path / "b2")
    assert (root / "head" / "a.txt").read_text() == "a2\n"
    assert (root / "kept" / ".git" / "HEAD").read_text().strip() == second
    cached = rb("build", "-t", "git:3", ctx)
    assert cached.returncode == 0 and cached.stdout.count("Using cache") == 4, cached.stdout


def test_add_git_errors_are_one_line(rb, busybox, repo, tmp_path):
    for line, message in ((f"ADD --checksum=0000000 {repo.url}#v1 /x/", f"v1 is commit {repo.first}, not 0000000"),
                          (f"ADD {repo.url}#nosuchref /x/", "no ref 'nosuchref'"),
                          (f"ADD {repo.url}#v1:nosuchdir /x/", "no directory 'nosuchdir'"),
                          ("ADD git://127.0.0.1:1/none.git /x/", "git ls-remote git://127.0.0.1:1/none.git")):
        ctx = tmp_path / f"c{abs(hash(line))}"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(FROM + line + "\n")
        done = rb("build", ctx)
        assert done.returncode != 0, line
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith("Error: Dockerfile:2: ") and message in last, (line, done.stderr)
        assert "Traceback" not in done.stderr
