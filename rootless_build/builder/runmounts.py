"""RUN --mount: each Dockerfile mount becomes a sandbox Mount (a host path bound into the
step, a tmpfs), and bind mounts get a content identity for the step's cache key.

cache   $ROOT/cache/run-mounts/<id>: a directory kept between builds, never committed
        (sharing=locked: one step at a time; private: a second instance when busy)
bind    from the build context (.dockerignore applies) or from a stage or image (its
        unpacked layers: bound directly when one layer holds the whole source, else a
        flattened copy); read-only unless rw (then writes go to a throw-away overlay)
secret  the --secret file, shown read-only from a tmpfs (or as an environment variable
        with env=); never committed, never part of the cache key or the history
tmpfs   a fresh tmpfs of the given size
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import quote

from rootless_build.builder import fstree
from rootless_build.builder.fstree import DIR, FILE, SYMLINK
from rootless_build.errors import BuildError, RootlessBuildError, SandboxError
from rootless_build.sandbox.idmap import lchown_mapped
from rootless_build.sandbox.mergedview import MergedView
from rootless_build.sandbox.spec import Mount as SandboxMount
from rootless_build.store.unpacked import lower_dirs

CACHE_MOUNTS = "run-mounts"
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


# --- the cache key -------------------------------------------------------------------------

def source_identity(request, mount) -> dict | None:
    """What a bind mount (or a cache mount seeded from= something) shows, for the cache key:
    a digest of the context tree it binds, or the chain id of the image it comes from."""
    if mount.type not in ("bind", "cache"):
        return None
    if mount.from_:
        image = request.source_image(mount.from_)
        return {"from": mount.from_, "chain": image.chain_ids[-1] if image.chain_ids else ""}
    if mount.type == "cache":
        return None
    return {"context": context_digest(request.context, mount.source)}


def context_digest(context, source: str) -> str:
    """sha256 over the names, kinds, modes, link targets and contents under `source`."""
    top, node = _context_source(context, source)
    digest = hashlib.sha256()
    entries = [(top, node)] + (list(fstree.walk(context, top)) if node.kind == DIR else [])
    for path, entry in entries:
        content = ""
        if entry.kind == FILE:
            content = _file_digest(context, path, entry)
        elif entry.kind == SYMLINK:
            content = context.readlink(path, entry)
        rel = path[len(top):].lstrip("/")
        digest.update(json.dumps([rel, entry.kind, entry.mode, entry.size, content]).encode(
            "utf-8", "surrogateescape") + b"\n")
    return "sha256:" + digest.hexdigest()


def _file_digest(context, path: str, node) -> str:
    known = context.known_digest(path, node)
    if known:
        return known
    digest = hashlib.sha256()
    with context.open(path, node) as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    result = "sha256:" + digest.hexdigest()
    context.remember_digest(path, node, result)
    return result


def _context_source(context, source: str):
    top = fstree.resolve(context, source or ".")
    node = context.node(top)
    if node is None:
        raise BuildError(f"--mount source {source or '.'} not found in the build context")
    return top, node


# --- making the mounts ---------------------------------------------------------------------

def prepare_mounts(store, request, scratch: Path, stack: ExitStack) -> tuple[list[SandboxMount], list[str]]:
    """The sandbox mounts of the request and the environment entries secrets add. Locks
    and temporary trees are released by `stack`; `scratch` is this step's private dir."""
    mounts: list[SandboxMount] = []
    env: list[str] = []
    ssh_count = 0
    for index, m in enumerate(request.mounts):
        try:
            if m.type == "cache":
                mounts.append(_cache_mount(store, request, m, stack))
            elif m.type == "bind":
                source = _bind_source(store, request, m, scratch / f"bind-{index}")
                mounts.append(SandboxMount("bind", m.target, source=source, readonly=m.readonly))
            elif m.type == "secret":
                mounts += _secret(request, m, env, scratch)
            elif m.type == "tmpfs":
                mounts.append(SandboxMount("tmpfs", m.target, size=tmpfs_size(m.size), readonly=False))
            elif m.type == "ssh":
                ssh_count += 1
                mounts += _ssh(request, m, env, ssh_count)
            else:
                raise BuildError(f"--mount=type={m.type} is not supported")
        except OSError as e:
            raise BuildError(f"--mount {m.type} {m.target}: {e.strerror or e}") from None
    return mounts, env


def tmpfs_size(text: str) -> int | None:
    """docker's RAMInBytes: `64m`, `1g`, `512k`, `1MiB`, bare bytes; binary units."""
    if not text:
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?", text.strip())
    if not match:
        raise BuildError(f"invalid tmpfs size {text!r}")
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "").lower()])


def _cache_name(cache_id: str) -> str:
    name = quote(cache_id, safe="-_.")
    return "%2E" + name[1:] if name.startswith(".") else name


def _lock(stack: ExitStack, path: Path, blocking: bool) -> bool:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return False
    stack.callback(os.close, fd)
    return True


def _cache_mount(store, request, m, stack: ExitStack) -> SandboxMount:
    root = store.cache_dir / CACHE_MOUNTS
    root.mkdir(parents=True, exist_ok=True)
    name = _cache_name(m.id or m.target)
    if m.sharing == "locked":
        _lock(stack, root / f"{name}.lock", blocking=True)
    elif m.sharing == "private":
        base, n = name, 0
        while not _lock(stack, root / f"{name}.lock", blocking=False):
            n += 1
            name = f"{base}~{n}"
    path = root / name
    if not path.is_dir():
        _create_cache_dir(store, request, m, path)
    return SandboxMount("cache", m.target, source=path, readonly=False)


def _create_cache_dir(store, request, m, path: Path) -> None:
    """A new cache dir (empty, or seeded from= a stage or image), owner and mode as asked."""
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=".new-"))
    try:
        made = tmp / "dir"
        if m.from_:
            view = _source_view(store, request, m)
            with _as_build_error():
                kind = view.kind(m.source)
                if kind == "absent":
                    raise BuildError(f"--mount source {m.source or '/'} not found in {m.from_}")
                if kind != "dir":
                    raise BuildError(f"--mount type=cache from={m.from_}: {m.source or '/'} is not a directory")
                view.copy_dir(m.source, made)       # cp -a: owners, modes and times kept
        else:
            made.mkdir()
        os.chmod(made, 0o755 if m.mode is None else m.mode)
        lchown_mapped(made, m.uid or 0, m.gid or 0)
        try:
            os.rename(made, path)
        except OSError:
            if not path.is_dir():       # else another build made it first: use theirs
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _secret(request, m, env: list[str], scratch: Path) -> list[SandboxMount]:
    secret_id = m.source or m.id or os.path.basename(m.target.rstrip("/"))
    path = request.secrets.get(secret_id)
    variable = request.secret_envs.get(secret_id)
    if path is None and variable is None:
        if m.required:
            raise BuildError(f"secret {secret_id} is required: pass it with --secret id={secret_id},src=FILE "
                             f"or --secret id={secret_id},env=VAR")
        return []       # an optional secret that was not given: nothing is mounted
    if variable is not None:
        value = _env_secret(secret_id, variable)
    else:
        value = None
        if not os.path.isfile(path) or not os.access(path, os.R_OK):
            raise BuildError(f"secret {secret_id}: cannot read {path}")
    if m.env:
        env.append(f"{m.env}={value if value is not None else _read_secret(secret_id, path)}")
        if not m.target:
            return []
    if value is not None:   # the sandbox copies it onto a tmpfs; this copy goes with the step's scratch
        scratch.mkdir(parents=True, exist_ok=True)
        fd, path = tempfile.mkstemp(dir=scratch, prefix="secret-")   # 0600
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(value)
    target = m.target or f"/run/secrets/{secret_id}"
    return [SandboxMount("secret", target, source=Path(path), mode=0o400 if m.mode is None else m.mode,
                         uid=m.uid or 0, gid=m.gid or 0)]


def _ssh(request, m, env: list[str], number: int) -> list[SandboxMount]:
    """The agent socket bound into the step (BuildKit's default target); the first one is
    SSH_AUTH_SOCK. Only the socket is shared: no key is ever in the step's filesystem."""
    ssh_id = m.id or "default"
    socket = request.ssh.get(ssh_id)
    if socket is None:
        if m.required:
            raise BuildError(f"ssh agent {ssh_id} is required: pass it with --ssh {ssh_id}[=SOCKET|KEYFILE]")
        return []
    target = m.target or f"/run/buildkit/ssh_agent.{number - 1}"
    if not any(entry.startswith("SSH_AUTH_SOCK=") for entry in env):
        env.append(f"SSH_AUTH_SOCK={target}")
    return [SandboxMount("bind", target, source=Path(socket), readonly=True)]


def _env_secret(secret_id: str, variable: str) -> str:
    value = os.environ.get(variable)
    if value is None:
        raise BuildError(f"secret {secret_id}: environment variable {variable} is not set")
    return value


def _read_secret(secret_id: str, path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()
    except OSError as e:
        raise BuildError(f"secret {secret_id}: cannot read {path}: {e.strerror}") from None


# --- bind sources --------------------------------------------------------------------------

def _bind_source(store, request, m, scratch: Path) -> Path:
    """A host path showing what the mount's source names (scratch: room for a copy)."""
    if not m.from_:
        return _context_bind(request.context, m.source, scratch)
    with _as_build_error():
        host = _source_view(store, request, m).show(m.source, scratch)
    if host is None:
        raise BuildError(f"--mount source {m.source or '/'} not found in {m.from_}")
    return host


def _source_view(store, request, m) -> MergedView:
    """The merged view of the stage or image a mount's from= names."""
    try:
        image = request.source_image(m.from_)
    except RootlessBuildError as e:
        raise BuildError(f"--mount from={m.from_}: {e}") from None
    return MergedView(lower_dirs(store, image, warn=request.warn))


@contextmanager
def _as_build_error() -> Iterator[None]:
    """What the sandbox could not read of a from= source is this step's error."""
    try:
        yield
    except SandboxError as e:
        raise BuildError(str(e)) from None


def _context_bind(context, source: str, scratch: Path) -> Path:
    top, node = _context_source(context, source)
    host = Path(context.host_path(top))
    if not context.ignore or node.kind != DIR:
        return host
    # .dockerignore applies: the step sees a copy (hard links where possible) without them.
    _materialize(context, top, node, scratch)
    return scratch


def _materialize(context, top: str, node, dest: Path) -> None:
    dest.mkdir(parents=True)
    dirs = [(dest, node)]
    for path, entry in fstree.walk(context, top):
        target = dest / path[len(top):].lstrip("/")
        host = context.host_path(path)
        if entry.kind == DIR:
            target.mkdir()
            dirs.append((target, entry))
        elif entry.kind == SYMLINK:
            os.symlink(os.readlink(host), target)
        elif entry.kind == FILE:
            try:
                os.link(host, target)
            except OSError:
                shutil.copy2(host, target)
        # devices, fifos: not something a bind mount of sources needs
    for path, entry in reversed(dirs):
        os.chmod(path, entry.mode)
        os.utime(path, ns=(entry.mtime_ns, entry.mtime_ns))
