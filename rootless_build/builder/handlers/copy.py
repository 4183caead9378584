"""COPY and ADD: plan the entries, key the cache on their names, modes, owners and content
digests, and write the layer straight from the sources when the cache misses.

When a context file's digest is unknown (new or changed since the stat cache saw it),
the layer is written first, hashing the file on the same read, and the cache is asked
afterwards: a file that was only touched still finds its cached step.

ADD of an http(s) URL downloads into the store's temp space (build/remote.py); the
download's digest is part of the key, and a step still cached is not downloaded again
when the server says it is unchanged (or --checksum names the content).
"""

from __future__ import annotations

import hashlib
import json
from functools import partial

from rootless_build.builder import fstree
from rootless_build.builder.copyplan import CopyError, CopyPlan, CopyRequest, Source, plan_copy
from rootless_build.builder.fstree import DIR
from rootless_build.builder.history import copy_created_by
from rootless_build.builder.modes import parse_chmod
from rootless_build.builder.patterns import go_clean
from rootless_build.builder.users import resolve_chown
from rootless_build.errors import RootlessBuildError
from rootless_build.oci.config import workdir


def handle_copy(step) -> None:
    _copy_or_add(step, step.expanded(), "COPY")


def handle_add(step) -> None:
    _copy_or_add(step, step.expanded(), "ADD")


def _copy_or_add(step, instr, keyword: str) -> None:
    is_add = keyword == "ADD"
    urls: list[str] = []
    git: list[str] = []
    if is_add:
        from rootless_build.builder import remote

        git = [s for s in instr.sources if remote.is_git(s)]
        if git and (len(instr.sources) > 1 or instr.heredocs):
            raise step.fail("ADD of a git repository takes that one source only")
        urls = [s for s in instr.sources if remote.is_url(s) and s not in git]
        if instr.checksum and not urls and not git:
            raise step.fail("--checksum can only be used with HTTP(S) sources")
        if instr.checksum and len(instr.sources) + len(instr.heredocs) > 1:
            raise step.fail("--checksum can only be used with a single source")
    ctx = step.ctx
    from_ref = getattr(instr, "from_", None)
    try:
        tree, label = ctx.source_tree(from_ref) if from_ref else (ctx.build_context, "the build context")
        lower = step.state.filesystem(step.store)
        chown = resolve_chown(instr.chown, lower.read_text) if instr.chown else None
        chmod = parse_chmod(instr.chmod) if instr.chmod else None
        heredocs = tuple((h.name, h.content.encode("utf-8", "surrogateescape")) for h in instr.heredocs)
        request = partial(
            CopyRequest, dest=instr.dest, workdir=workdir(step.state.config), lower=lower,
            chown=chown, chmod=chmod, excludes=instr.excludes, parents=getattr(instr, "parents", False),
            keep_owners=bool(from_ref) and not _is_directory_context(tree), now_ns=step.now(),
            clamp_ns=ctx.layer_epoch_ns)
        local = [s for s in instr.sources if s not in urls]
        if git:
            return _add_git(step, instr, git[0], chown, request)
        if not urls:
            plan = plan_copy(request(Source(tree, label, tuple(local), heredocs),
                                     unpack_archives=is_add and not from_ref))
    except RootlessBuildError as e:
        raise step.fail(str(e)) from None
    if urls:
        _add_urls(step, instr, urls, chown, lambda downloads: _plan_with_downloads(
            request, Source(tree, label, tuple(local), heredocs), downloads, len(instr.sources) + len(heredocs)))
    else:
        _cache_or_write(step, instr, keyword, plan, chown)


def _is_directory_context(tree) -> bool:
    """A --build-context directory: its files are copied as root's, like the main context's."""
    from rootless_build.builder.context import BuildContext

    return isinstance(tree, BuildContext)


def _cache_or_write(step, instr, keyword: str, plan: CopyPlan, chown, *, missed: dict | None = None) -> None:
    """Continue from the cached step, or write the layer and commit it."""
    from rootless_build.builder.layerwrite import discard, hash_files, keep, write_layer

    ctx = step.ctx
    inputs = cache_inputs(plan, keyword)
    if inputs is None and _hash_first(plan):
        hash_files(_unknown(plan))
        inputs = cache_inputs(plan, keyword)
    if inputs is not None and inputs != missed and step.use_cache(inputs):
        return
    try:
        written = write_layer(step.store, plan, epoch=ctx.layer_epoch)
    except RootlessBuildError as e:
        raise step.fail(str(e)) from None
    if inputs is None and step.use_cache(cache_inputs(plan, keyword)):
        discard(written)  # only the stat data had changed: same inputs, cached
        return
    keep(step.store, written)
    step.add_layer(written.diff_id, written.size)
    from_ref = getattr(instr, "from_", None)
    flags = [f"--from={from_ref}"] if from_ref else []
    if instr.chown:
        flags.append(f"--chown={instr.chown}")
    step.commit(copy_created_by(keyword, flags, describe(plan, instr), instr.dest), empty_layer=False)


# -- ADD <url> ------------------------------------------------------------------------------


def _add_urls(step, instr, urls: list[str], chown, plan_for) -> None:
    """Probe each URL (its digest, downloaded only when that is the only way to know it),
    ask the cache, and download what is still missing only when the step must be built."""
    from rootless_build.builder import remote

    with step.store.temp_dir(prefix="add-") as directory:
        downloader = remote.Downloader(step.store, directory, checksum=instr.checksum, now_ns=step.now())
        try:
            downloads = [downloader.probe(url) for url in urls]
            plan = plan_for(downloads)
            missed = cache_inputs(plan, "ADD")
            if missed is not None and step.use_cache(missed):
                return
            if any(d.path is None for d in downloads):
                downloads = [downloader.fetch(d) for d in downloads]
                plan = plan_for(downloads)
        except RootlessBuildError as e:
            raise step.fail(str(e)) from None
        finally:
            downloader.close()
        _cache_or_write(step, instr, "ADD", plan, chown, missed=missed)


def _add_git(step, instr, source: str, chown, request) -> None:
    """ADD of a git repository: keyed on the commit its ref resolves to, fetched on a miss."""
    from rootless_build.builder import gitsource
    from rootless_build.builder.context import BuildContext
    from rootless_build.builder.dockerignore import IgnoreMatcher
    from rootless_build.builder.layerwrite import keep, write_layer

    ssh = step.ctx.options.ssh.get("default")
    git = gitsource.parse_git(source)
    commit = gitsource.resolve(git, ssh)
    if instr.checksum:
        gitsource.check_commit(git, commit, instr.checksum)
    inputs = {"keyword": "ADD", "git": git.shown, "commit": commit, "subdir": git.subdir,
              "keep_git_dir": instr.keep_git_dir, "dest": instr.dest, "workdir": workdir(step.state.config),
              "chown": instr.chown, "chmod": instr.chmod}
    if step.use_cache(inputs):
        return
    with step.store.temp_dir(prefix="git-") as directory:
        top = gitsource.checkout(git, commit, directory / "repo", keep_git_dir=instr.keep_git_dir,
                                 ssh_socket=ssh)
        tree = BuildContext(top, IgnoreMatcher([]))
        try:
            plan = plan_copy(request(Source(tree, git.shown, (".",), ()), unpack_archives=False))
            written = write_layer(step.store, plan, epoch=step.ctx.layer_epoch)
        except RootlessBuildError as e:
            raise step.fail(str(e)) from None
    keep(step.store, written)
    step.add_layer(written.diff_id, written.size)
    step.commit(copy_created_by("ADD", [], f"git:{git.shown}@{commit}", instr.dest), empty_layer=False)


def _plan_with_downloads(request, local: Source, downloads: list, sources: int) -> CopyPlan:
    """Local sources (archives unpacked) and downloads (never unpacked) planned apart, then
    merged as BuildKit copies them one after the other into the same destination."""
    from rootless_build.builder import remote

    tree = remote.DownloadTree()
    paths = tuple(tree.add(d) for d in downloads)
    if sources > 1 and not _into_directory(**request.keywords):
        raise CopyError("when using ADD with more than one source file, the destination must be "
                        "a directory and end with a /")
    plans = []
    if local.paths or local.heredocs:
        plans.append(plan_copy(request(local, unpack_archives=True)))
    plans.append(plan_copy(request(Source(tree, "the downloads", paths), unpack_archives=False)))
    if len(plans) == 1:
        return plans[0]
    entries: dict = {}
    for plan in plans:
        for entry in plan.entries:
            previous = entries.get(entry.dest)
            if previous is not None and previous.kind == DIR and entry.kind == DIR and entry.node is None:
                continue  # an implied parent never overrides a copied directory's metadata
            entries[entry.dest] = entry
    ordered = sorted(entries.values(), key=lambda e: e.dest.split("/"))
    return CopyPlan(ordered, [a for plan in plans for a in plan.archives])


def _into_directory(*, dest: str, workdir: str, lower, **_) -> bool:
    """Whether the destination is a directory: written with a trailing / or existing."""
    if dest in (".", "") or dest.endswith("/") or dest.endswith("/."):
        return True
    absolute = dest if dest.startswith("/") else f"{workdir.rstrip('/')}/{dest}"
    node = lower.node(fstree.resolve(lower, go_clean("/" + absolute).lstrip("/")))
    return node is not None and node.kind == DIR


_SMALL = 16 << 20


def _unknown(plan: CopyPlan) -> list:
    return [e for e in plan.entries if e.kind == "file" and e.digest is None and not e.hardlink_to]


def _hash_first(plan: CopyPlan) -> bool:
    """Hash unknown files before writing when that is cheap (little data) or likely to
    hit the cache (files hashed before whose stat data changed: a touch, a checkout).
    Else new big files are hashed while the layer is written: one read instead of two."""
    if plan.archives and any(a.digest is None for a in plan.archives):
        return False
    unknown = _unknown(plan)
    if sum(e.size for e in unknown) <= _SMALL:
        return True
    return all(getattr(e.tree, "seen_before", lambda _p: False)(e.src) for e in unknown)


def cache_inputs(plan: CopyPlan, keyword: str) -> dict | None:
    """What the layer is made of, or None while some file's digest is still unknown."""
    entries = []
    for e in plan.entries:
        if e.kind == "file" and e.digest is None and not e.hardlink_to:
            return None
        xattrs = sorted((k, v.hex()) for k, v in e.xattrs.items()) if e.xattrs else None
        entries.append([e.dest, e.kind, e.mode, e.uid, e.gid, e.linkname, e.hardlink_to,
                        e.digest if e.kind == "file" else None, e.devmajor, e.devminor, xattrs])
    archives = []
    for a in plan.archives:
        if a.digest is None:
            return None
        archives.append([a.dest, a.compression, a.digest])
    return {"keyword": keyword, "entries": entries, "archives": archives}


def describe(plan: CopyPlan, instr) -> str:
    """docker's `file:<hash>`, `dir:<hash>` or `multi:<hash>` for the history entry."""
    inputs = cache_inputs(plan, "") or {}
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
    sources = len(instr.sources) + len(instr.heredocs)
    files = [e for e in plan.entries if e.node is not None or e.data is not None]
    if sources == 1 and len(files) == 1 and files[0].kind == "file" and not plan.archives:
        content = files[0].digest or ""
        if not content.startswith("sha256:") or "@" in content:  # a place in an image's layer
            content = hashlib.sha256(content.encode()).hexdigest()
        return f"file:{content.split(':', 1)[-1]}"
    if sources == 1:
        return f"dir:{digest}"
    return f"multi:{digest}"
