"""ADD of a git repository, with the system `git`: `ADD https://host/repo.git#ref:subdir`,
`ADD git@host:repo.git`, `ADD git://host/repo.git#v1.0`.

The ref (a branch, a tag or a commit; the remote's HEAD when none) is resolved to a commit
with `git ls-remote` first: the step's cache key holds that commit, so a cached step needs
no fetch at all. On a miss the commit alone is fetched (depth 1) into a temp dir; without
--keep-git-dir the .git directory is left out of the layer. `--checksum` names the commit
the ref must resolve to (a full hash, or a prefix of at least 7 hex digits).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from rootless_build.errors import BuildError
from rootless_build.record import Record

_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_TIMEOUT = 600


class GitSource(Record, frozen=True):
    remote: str  # what git is given: the URL without its #fragment
    ref: str  # "" = the remote's HEAD
    subdir: str  # "" = the whole tree

    @property
    def shown(self) -> str:
        """The remote without credentials (for messages, history and the cache key)."""
        parts = urlsplit(self.remote)
        if parts.scheme and "@" in parts.netloc:
            return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        return self.remote


def parse_git(source: str) -> GitSource:
    """`URL[#REF[:SUBDIR]]`, as BuildKit reads a git source."""
    remote, _, fragment = source.partition("#")
    ref, _, subdir = fragment.partition(":")
    subdir = subdir.strip("/")
    if any(part == ".." for part in subdir.split("/")):
        raise BuildError(f"git source {source}: the subdirectory cannot leave the repository")
    return GitSource(remote, ref, subdir)


def _git(args: list[str], source: GitSource, *, cwd: Path | None = None, ssh_socket: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1", LC_ALL="C")
    if ssh_socket:
        env["SSH_AUTH_SOCK"] = ssh_socket
    try:
        done = subprocess.run(["git", *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=_TIMEOUT, check=False)
    except FileNotFoundError:
        raise BuildError("ADD of a git repository needs git (install the git package)") from None
    except subprocess.TimeoutExpired:
        raise BuildError(f"git {args[0]} {source.shown}: no answer in {_TIMEOUT} s") from None
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise BuildError(f"git {args[0]} {source.shown}: {reason}")
    return done.stdout


def resolve(source: GitSource, ssh_socket: str | None = None) -> str:
    """The commit the source's ref names now (a commit hash is taken as it is)."""
    if _COMMIT.fullmatch(source.ref):
        return source.ref
    wanted = source.ref or "HEAD"
    listing = _git(["ls-remote", "--", source.remote, wanted, wanted + "^{}"], source, ssh_socket=ssh_socket)
    found: dict[str, str] = {}
    for line in listing.splitlines():
        commit, _, name = line.partition("\t")
        found[name] = commit
    # an annotated tag's commit is its peeled (^{}) entry
    for name in (f"refs/tags/{wanted}^{{}}", wanted, f"refs/heads/{wanted}", f"refs/tags/{wanted}"):
        if name in found:
            return found[name]
    raise BuildError(f"git source {source.shown}: no ref {wanted!r}")


def check_commit(source: GitSource, commit: str, checksum: str) -> None:
    wanted = checksum.lower()
    if not re.fullmatch(r"[0-9a-f]{7,64}", wanted):
        raise BuildError(f"invalid --checksum {checksum!r} for a git source: expected a commit hash")
    if not commit.startswith(wanted):
        raise BuildError(f"git source {source.shown}: {source.ref or 'HEAD'} is commit {commit}, "
                         f"not {checksum} (--checksum)")


def checkout(source: GitSource, commit: str, directory: Path, *, keep_git_dir: bool,
             ssh_socket: str | None = None) -> Path:
    """The commit's tree in `directory`; returns the directory to copy (the subdir)."""
    directory.mkdir(parents=True, exist_ok=True)
    _git(["init", "-q"], source, cwd=directory)
    try:  # only that commit: servers let a client want any reachable commit (protocol v2)
        _git(["fetch", "-q", "--depth=1", "--no-tags", "--", source.remote, commit], source, cwd=directory,
             ssh_socket=ssh_socket)
    except BuildError:  # an older server: the ref, then check it is still that commit
        ref = source.ref or "HEAD"
        _git(["fetch", "-q", "--no-tags", "--", source.remote, ref], source, cwd=directory, ssh_socket=ssh_socket)
    _git(["-c", "advice.detachedHead=false", "checkout", "-q", commit], source, cwd=directory)
    if keep_git_dir:
        (directory / ".git" / "FETCH_HEAD").unlink(missing_ok=True)
    else:
        shutil.rmtree(directory / ".git")
    tree = (directory / source.subdir).resolve() if source.subdir else directory
    if not tree.is_dir() or not tree.is_relative_to(directory.resolve()):
        raise BuildError(f"git source {source.shown}: no directory {source.subdir!r} at {commit[:12]}")
    return tree
