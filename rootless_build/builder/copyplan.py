"""COPY/ADD: which entries go where in the new layer, following BuildKit's copy rules.

- A source names a path in its tree (context, stage or image); `..` cannot leave it.
  A named source that is a symlink is followed; symlinks inside copied dirs are kept.
- Wildcards (`*`, `?`, `[]`; `**` is two `*`, as Go's filepath.Match reads it) match
  below the literal prefix, one component each; a matched directory is copied, not
  searched further. A wildcard that matches nothing is no error (BuildKit's
  AllowEmptyWildcard); a literal source that is missing is.
- A directory source copies its contents. A file goes to `dest` itself, or into it
  when `dest` ends in `/` (or is `.`), is an existing directory, or several sources
  matched (which then require a directory destination, as the classic builder says).
- New parent directories are 0755, owned by the --chown ids (else root); existing ones
  keep their metadata. Copied entries keep their modes and mtimes (clamped to
  SOURCE_DATE_EPOCH), get --chown ids (else 0:0 from the context, their own owners
  with --from) and the --chmod mode when given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rootless_build.builder import fstree
from rootless_build.builder.dockerignore import IgnoreMatcher
from rootless_build.builder.fstree import DIR, FILE, SYMLINK, Node
from rootless_build.builder.modes import ModeSpec
from rootless_build.builder.patterns import Glob, go_clean, has_wildcards, split_wildcards, unescape
from rootless_build.errors import BuildError


class CopyError(BuildError):
    """A COPY/ADD problem; the builder prefixes the Dockerfile location and instruction."""


@dataclass(slots=True)
class Entry:
    dest: str  # path in the image, relative, '' never (the root is not written)
    kind: str
    mode: int
    uid: int
    gid: int
    mtime_ns: int
    size: int = 0
    linkname: str = ""  # symlink target
    hardlink_to: str = ""  # set by the writer's plan when an earlier entry is the same inode
    xattrs: dict | None = None
    devmajor: int = 0
    devminor: int = 0
    tree: object = None  # fstree.Tree holding the bytes
    src: str = ""  # path in that tree
    node: Node | None = None
    data: bytes | None = None  # inline bytes (heredocs)
    digest: str | None = None  # content digest when known


@dataclass(slots=True)
class ArchiveSource:
    """ADD of a local archive: its entries are unpacked under `dest` when written."""

    dest: str
    tree: object
    src: str
    node: Node
    compression: str
    digest: str | None = None
    lower: object = None  # ImageFS under the layer: symlinks members may pass through
    now_ns: int = 0  # mtime of the parent directories the unpacking creates


@dataclass
class Source:
    tree: object  # fstree.Tree
    label: str  # "the build context", "stage build", "image x"
    paths: tuple[str, ...]
    heredocs: tuple = ()  # (name, bytes)


@dataclass
class CopyRequest:
    source: Source
    dest: str  # as written (expanded)
    workdir: str
    lower: object  # ImageFS of the stage so far
    chown: tuple[int, int] | None = None
    chmod: ModeSpec | None = None
    excludes: tuple[str, ...] = ()
    parents: bool = False
    unpack_archives: bool = False  # ADD from the context
    keep_owners: bool = False  # COPY --from keeps the source's owners (no --chown given)
    now_ns: int = 0  # mtime of created directories and heredoc files
    clamp_ns: int | None = None  # SOURCE_DATE_EPOCH


@dataclass
class CopyPlan:
    entries: list[Entry] = field(default_factory=list)
    archives: list[ArchiveSource] = field(default_factory=list)
    described: str = ""  # docker's `file:<hash>` / `dir:<hash>` / `multi:<hash>` for history


def plan_copy(req: CopyRequest) -> CopyPlan:
    planner = _Planner(req)
    return planner.run()


class _Planner:
    def __init__(self, req: CopyRequest):
        self.req = req
        self.tree = req.source.tree
        self.lower = req.lower
        self.entries: dict[str, Entry] = {}
        self.archives: list[ArchiveSource] = []
        self.excluder = IgnoreMatcher(list(req.excludes)) if req.excludes else None
        self.uid, self.gid = req.chown or (0, 0)

    # -- the destination -----------------------------------------------------------------

    def run(self) -> CopyPlan:
        req = self.req
        written = req.dest
        dest_abs = written if written.startswith("/") else f"{req.workdir.rstrip('/')}/{written}"
        dest_dir_syntax = written in (".", "") or written.endswith("/")
        dest = fstree.resolve(self.lower, go_clean("/" + dest_abs).lstrip("/"))
        matches = self._matches()
        several = len(matches) + len(req.source.heredocs) > 1
        dest_node = self.lower.node(dest) if dest else self.lower.node("")
        dest_exists_dir = dest == "" or (dest_node is not None and dest_node.kind == DIR)
        into_dir = dest_dir_syntax or dest_exists_dir
        if several and not into_dir:
            raise CopyError("when using COPY with more than one source file, the destination must be "
                            "a directory and end with a /")
        for match, real, node, relative in matches:
            if node.kind == DIR:
                target = fstree.join(dest, relative) if req.parents else dest
                self._copy_dir(real, target)
            else:
                name = relative if req.parents else match.rpartition("/")[2]
                target = fstree.join(dest, name) if into_dir or req.parents else dest
                if req.unpack_archives and node.kind == FILE:
                    compression = _archive_kind(self.tree, real, node)
                    if compression is not None:
                        self._ensure_dir(dest, created_mode=0o755)
                        self.archives.append(ArchiveSource(dest, self.tree, real, node, compression,
                                                           self.tree.known_digest(real, node),
                                                           self.lower, self._clamp(req.now_ns)))
                        continue
                self._copy_one(real, node, target)
        for name, data in req.source.heredocs:
            target = fstree.join(dest, name) if into_dir else dest
            mode = req.chmod.apply(0o644, False) if req.chmod else 0o644
            self._ensure_dir(target.rpartition("/")[0], created_mode=0o755)
            self._add(Entry(target, FILE, mode, self.uid, self.gid, self._clamp(req.now_ns), len(data),
                            data=data, digest=_sha256(data)))
        ordered = sorted(self.entries.values(), key=lambda e: e.dest.split("/"))
        _link_hardlinks(ordered)
        return CopyPlan(ordered, self.archives)

    # -- sources -------------------------------------------------------------------------

    def _matches(self) -> list[tuple[str, str, Node, str]]:
        """(path as matched, path with symlinks followed, its node, path for --parents)."""
        out = []
        for written in self.req.source.paths:
            path, pivot = _clean_source(written)
            if has_wildcards(path):
                found = self._glob(path)
            else:
                found = [unescape(path)]
            for match in found:
                if self.excluder and match and self.excluder.excluded(match):
                    continue
                real = fstree.resolve(self.tree, match)
                node = self.tree.node(real)
                if node is None:
                    raise CopyError(f"{written}: no such file or directory in {self.req.source.label}")
                relative = match[len(pivot):].lstrip("/") if pivot and match.startswith(pivot) else match
                out.append((match, real, node, relative))
        return out

    def _glob(self, pattern: str) -> list[str]:
        base, rest = split_wildcards(pattern)
        base = unescape(base)
        real_base = fstree.resolve(self.tree, base)
        node = self.tree.node(real_base)
        if node is None or node.kind != DIR:
            return []
        glob = Glob(rest)
        found: list[str] = []
        self._walk_glob(real_base, "", glob, found, base)
        return found

    def _walk_glob(self, real_dir: str, rel: str, glob: Glob, found: list[str], base: str) -> None:
        for name in self.tree.listdir(fstree.join(real_dir, rel) if rel else real_dir):
            child_rel = fstree.join(rel, name)
            node = self.tree.node(fstree.join(real_dir, child_rel))
            if node is None:
                continue
            if glob.match(child_rel):
                found.append(fstree.join(base, child_rel))
            elif node.kind == DIR and (glob.depth is None or child_rel.count("/") + 1 < glob.depth):
                self._walk_glob(real_dir, child_rel, glob, found, base)

    # -- entries -------------------------------------------------------------------------

    def _copy_dir(self, real: str, target: str) -> None:
        self._ensure_dir(target, created_mode=0o755)
        for path, node in fstree.walk(self.tree, real):
            rel = path[len(real):].lstrip("/") if real else path
            if self.excluder and self.excluder.excluded(rel):
                continue
            self._add(self._entry(fstree.join(target, rel), path, node))

    def _copy_one(self, real: str, node: Node, target: str) -> None:
        if not target:
            raise CopyError("cannot replace the root directory with a file")
        parent = target.rpartition("/")[0]
        self._ensure_dir(parent, created_mode=0o755)
        existing = self.lower.node(target)
        if existing is not None and existing.kind == DIR and node.kind != DIR:
            raise CopyError(f"cannot replace directory /{target} with a file")
        self._add(self._entry(target, real, node))

    def _entry(self, dest: str, src: str, node: Node) -> Entry:
        mode = node.mode
        if self.req.chmod is not None and node.kind != SYMLINK:
            mode = self.req.chmod.apply(mode, node.kind == DIR)
        digest = self.tree.known_digest(src, node) if node.kind == FILE else None
        linkname = self.tree.readlink(src, node) if node.kind == SYMLINK else ""
        uid, gid = self.uid, self.gid
        if self.req.keep_owners and not self.req.chown:
            uid, gid = node.uid, node.gid
        return Entry(dest, node.kind, mode, uid, gid, self._clamp(node.mtime_ns), node.size,
                     linkname=linkname, xattrs=node.xattrs, devmajor=node.devmajor, devminor=node.devminor,
                     tree=self.tree, src=src, node=node, digest=digest)

    def _ensure_dir(self, path: str, created_mode: int) -> None:
        """`path` and its parents as directory entries: existing ones as they are in the image."""
        if not path:
            return
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            sub = "/".join(parts[:depth])
            if sub in self.entries:
                if self.entries[sub].kind != DIR:
                    raise CopyError(f"cannot copy to non-directory: /{sub}")
                continue
            lower = self.lower.node(sub)
            if lower is None:
                self.entries[sub] = Entry(sub, DIR, created_mode, self.uid, self.gid,
                                          self._clamp(self.req.now_ns))
            elif lower.kind == DIR:
                self.entries[sub] = Entry(sub, DIR, lower.mode, lower.uid, lower.gid, lower.mtime_ns,
                                          xattrs=lower.xattrs)
            else:
                raise CopyError(f"cannot copy to non-directory: /{sub}")

    def _add(self, entry: Entry) -> None:
        previous = self.entries.get(entry.dest)
        if previous is not None and previous.kind == DIR and entry.kind == DIR and entry.node is None:
            return  # an implied parent never overrides a copied directory's metadata
        self.entries[entry.dest] = entry

    def _clamp(self, mtime_ns: int) -> int:
        clamp = self.req.clamp_ns
        return mtime_ns if clamp is None else min(mtime_ns, clamp)


def _clean_source(written: str) -> tuple[str, str]:
    """(clean relative path, the --parents pivot: the part before a `/./`, or '')."""
    pivot = ""
    if "/./" in written:
        head, _, _ = written.partition("/./")
        pivot = go_clean("/" + head).lstrip("/")
    return go_clean("/" + written).lstrip("/"), pivot


def _link_hardlinks(entries: list[Entry]) -> None:
    """A second entry of the same inode becomes a hardlink to the first, as tar writes it."""
    first: dict[object, str] = {}
    for entry in entries:
        ident = entry.node.ident if entry.node is not None and entry.kind == FILE else None
        if ident is None:
            continue
        if ident in first:
            entry.hardlink_to = first[ident]
        else:
            first[ident] = entry.dest


def _sha256(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()



def _archive_kind(tree, path: str, node: Node) -> str | None:
    """'' (plain tar), 'gzip', 'bzip2', 'xz', 'zstd', or None when the file is no tar archive."""
    from rootless_build.builder import archive

    return archive.detect(tree, path, node)
