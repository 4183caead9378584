"""COPY and ADD: plan the entries, key the cache on their names, modes, owners and content
digests, and write the layer straight from the sources when the cache misses.

When a context file's digest is unknown (new or changed since the stat cache saw it),
the layer is written first, hashing the file on the same read, and the cache is asked
afterwards: a file that was only touched still finds its cached step.
"""

from __future__ import annotations

import hashlib
import json

from rootless_build.build.copyplan import CopyPlan, CopyRequest, Source, plan_copy
from rootless_build.build.history import copy_created_by
from rootless_build.build.imageconfig import workdir
from rootless_build.build.layerwrite import discard, hash_files, keep, write_layer
from rootless_build.build.modes import parse_chmod
from rootless_build.build.users import resolve_chown
from rootless_build.errors import RootlessBuildError

_REMOTE_PREFIXES = ("http://", "https://", "git@", "git://", "ssh://")


def handle_copy(step) -> None:
    _copy_or_add(step, step.expanded(), "COPY")


def handle_add(step) -> None:
    _copy_or_add(step, step.expanded(), "ADD")


def _copy_or_add(step, instr, keyword: str) -> None:
    is_add = keyword == "ADD"
    if is_add:
        remote = [s for s in instr.sources if s.startswith(_REMOTE_PREFIXES)]
        if remote:
            raise step.fail(f"ADD from a URL or git repository ({remote[0]}) is not supported yet: "
                            "download it into the build context and COPY it")
        if instr.checksum:
            raise step.fail("--checksum can only be used with HTTP(S) sources")
    build = step.build
    state = step.state
    from_ref = getattr(instr, "from_", None)
    try:
        tree, label = build.source_tree(from_ref) if from_ref else (build.context, "the build context")
        lower = state.filesystem(step.store)
        chown = resolve_chown(instr.chown, lower.read_text) if instr.chown else None
        chmod = parse_chmod(instr.chmod) if instr.chmod else None
        heredocs = tuple((h.name, h.content.encode("utf-8", "surrogateescape")) for h in instr.heredocs)
        request = CopyRequest(
            Source(tree, label, instr.sources, heredocs), instr.dest, workdir(state.config), lower,
            chown=chown, chmod=chmod, excludes=instr.excludes, parents=getattr(instr, "parents", False),
            unpack_archives=is_add and not from_ref, keep_owners=bool(from_ref), now_ns=step.now(),
            clamp_ns=build.epoch_ns)
        plan = plan_copy(request)
    except RootlessBuildError as e:
        raise step.fail(str(e)) from None
    inputs = cache_inputs(plan, keyword)
    if inputs is None and _hash_first(plan):
        hash_files(_unknown(plan))
        inputs = cache_inputs(plan, keyword)
    if inputs is not None and step.use_cache(inputs):
        return
    try:
        written = write_layer(step.store, plan, chown=chown, epoch=build.epoch)
    except RootlessBuildError as e:
        raise step.fail(str(e)) from None
    if inputs is None and step.use_cache(cache_inputs(plan, keyword)):
        discard(written)  # only the stat data had changed: same inputs, cached
        return
    keep(step.store, written)
    step.add_layer(written.diff_id, written.size)
    flags = [f"--from={from_ref}"] if from_ref else []
    if instr.chown:
        flags.append(f"--chown={instr.chown}")
    step.commit(copy_created_by(keyword, flags, describe(plan, instr), instr.dest), empty_layer=False)


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
