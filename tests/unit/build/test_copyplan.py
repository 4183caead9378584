"""Where COPY puts things: destination rules, symlinks, globs, parents, owners, modes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rootless_build.builder.context import BuildContext
from rootless_build.builder.copyplan import CopyError, CopyRequest, Source, plan_copy
from rootless_build.builder.dockerignore import IgnoreMatcher
from rootless_build.builder.imagefs import ImageFS
from rootless_build.builder.modes import parse_chmod

NOW = 1_700_000_000 * 10**9


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    root = tmp_path / "ctx"
    (root / "dir" / "sub").mkdir(parents=True)
    (root / "dir" / "a.txt").write_text("a")
    (root / "dir" / "sub" / "b.txt").write_text("b")
    (root / "dir" / "sub" / "c.md").write_text("c")
    (root / "f.txt").write_text("f")
    (root / "g.txt").write_text("g")
    (root / "exec.sh").write_text("#!/bin/sh\n")
    os.chmod(root / "exec.sh", 0o755)
    os.symlink("dir/a.txt", root / "link")
    os.symlink("../../etc/passwd", root / "escape")
    os.link(root / "f.txt", root / "dir" / "f-hard")
    return root


def plan(ctx, sources, dest, lower=None, ignore=(), workdir="/", **kw):
    tree = BuildContext(ctx, IgnoreMatcher(list(ignore)))
    req = CopyRequest(Source(tree, "the build context", tuple(sources)), dest, workdir,
                      lower or ImageFS(None, []), now_ns=NOW, **kw)
    return plan_copy(req)


def summary(result):
    return {e.dest: (e.kind, oct(e.mode), e.uid, e.gid) for e in result.entries}


def test_file_to_a_file_path(ctx):
    assert summary(plan(ctx, ["f.txt"], "/x")) == {"x": ("file", "0o644", 0, 0)}


def test_file_into_a_directory_path(ctx):
    result = summary(plan(ctx, ["f.txt"], "/x/y/"))
    assert result == {"x": ("dir", "0o755", 0, 0), "x/y": ("dir", "0o755", 0, 0),
                      "x/y/f.txt": ("file", "0o644", 0, 0)}


def test_file_into_an_existing_directory_keeps_its_metadata(ctx, store, base_image):
    lower = ImageFS.of_image(store, base_image)
    result = summary(plan(ctx, ["f.txt"], "/tmp", lower=lower))
    assert result == {"tmp": ("dir", "0o1777", 0, 0), "tmp/f.txt": ("file", "0o644", 0, 0)}


def test_destination_symlinks_are_followed(ctx, store, base_image):
    lower = ImageFS.of_image(store, base_image)
    result = summary(plan(ctx, ["exec.sh"], "/bin/", lower=lower))
    assert "usr/bin/exec.sh" in result and result["usr/bin/exec.sh"][1] == "0o755"


def test_directory_copies_its_contents(ctx):
    result = plan(ctx, ["dir"], "/d")
    names = [e.dest for e in result.entries]
    assert names == ["d", "d/a.txt", "d/f-hard", "d/sub", "d/sub/b.txt", "d/sub/c.md"]


def test_relative_destination_uses_workdir(ctx):
    assert "app/x" in summary(plan(ctx, ["f.txt"], "x", workdir="/app"))
    assert "app/f.txt" in summary(plan(ctx, ["f.txt"], ".", workdir="/app"))


def test_several_sources_need_a_directory(ctx):
    with pytest.raises(CopyError, match="must be a directory"):
        plan(ctx, ["f.txt", "g.txt"], "/x")
    assert set(summary(plan(ctx, ["f.txt", "g.txt"], "/x/"))) == {"x", "x/f.txt", "x/g.txt"}


def test_globs(ctx):
    assert set(summary(plan(ctx, ["*.txt"], "/x/"))) == {"x", "x/f.txt", "x/g.txt"}
    # `**` is one component, as in BuildKit: dir/**/*.txt is dir/*/*.txt
    assert set(summary(plan(ctx, ["dir/**/*.txt"], "/x/"))) == {"x", "x/b.txt"}
    # a wildcard matching nothing is no error; the other sources are copied
    assert plan(ctx, ["*.nothing"], "/x/").entries == []
    assert set(summary(plan(ctx, ["*.nothing", "f.txt"], "/x/"))) == {"x", "x/f.txt"}
    # one match is one source: it may be renamed
    assert list(summary(plan(ctx, ["f.*"], "/single"))) == ["single"]


def test_named_symlink_is_followed_and_inner_ones_kept(ctx, tmp_path):
    followed = plan(ctx, ["link"], "/x")
    assert [(e.dest, e.kind, e.src) for e in followed.entries] == [("x", "file", "dir/a.txt")]
    os.symlink("a.txt", ctx / "dir" / "inner")
    inner = {e.dest: e for e in plan(ctx, ["dir"], "/d").entries}
    assert inner["d/inner"].kind == "symlink" and inner["d/inner"].linkname == "a.txt"


def test_symlinks_cannot_leave_the_context(ctx):
    with pytest.raises(CopyError, match="escape: no such file"):
        plan(ctx, ["escape"], "/x")  # resolves to <context>/etc/passwd, which is absent


def test_sources_cannot_leave_the_context(ctx):
    # '..' stops at the context root: ../../f.txt is the context's own f.txt
    assert [e.src for e in plan(ctx, ["../../f.txt"], "/x").entries] == ["f.txt"]


def test_missing_and_ignored_sources(ctx):
    with pytest.raises(CopyError, match="nosuch: no such file or directory in the build context"):
        plan(ctx, ["nosuch"], "/x")
    with pytest.raises(CopyError, match="f.txt: no such file"):
        plan(ctx, ["f.txt"], "/x", ignore=["*.txt"])
    kept = summary(plan(ctx, ["dir"], "/d/", ignore=["dir/sub", "!dir/sub/b.txt"]))
    assert "d/sub/b.txt" in kept and "d/sub/c.md" not in kept


def test_chown_and_chmod(ctx):
    result = summary(plan(ctx, ["dir"], "/new/d", chown=(1000, 1001), chmod=parse_chmod("0640")))
    assert result["new"] == ("dir", "0o755", 1000, 1001)  # created parents: 0755, chowned
    assert result["new/d/a.txt"] == ("file", "0o640", 1000, 1001)
    assert result["new/d/sub"] == ("dir", "0o640", 1000, 1001)


def test_parents_and_excludes(ctx):
    parents = set(summary(plan(ctx, ["dir/sub/b.txt", "f.txt"], "/p/", parents=True)))
    assert {"p/dir/sub/b.txt", "p/f.txt"} <= parents
    pivot = set(summary(plan(ctx, ["dir/./sub/b.txt"], "/p/", parents=True)))
    assert "p/sub/b.txt" in pivot
    excluded = set(summary(plan(ctx, ["dir"], "/e/", excludes=("**/*.md", "sub/b.txt"))))
    assert "e/sub/c.md" not in excluded and "e/sub/b.txt" not in excluded and "e/a.txt" in excluded
    top = set(summary(plan(ctx, ["*.txt"], "/t/", excludes=("g.txt",))))
    assert top == {"t", "t/f.txt"}


def test_hardlinks_are_kept(ctx):
    result = {e.dest: e for e in plan(ctx, ["f.txt", "dir"], "/h/").entries}
    assert result["h/f.txt"].hardlink_to == "h/f-hard" or result["h/f-hard"].hardlink_to == "h/f.txt"


def test_mtimes_are_kept_and_clamped(ctx):
    os.utime(ctx / "f.txt", ns=(NOW, NOW))
    entry = plan(ctx, ["f.txt"], "/x").entries[0]
    assert entry.mtime_ns == NOW
    clamped = plan(ctx, ["f.txt"], "/x", clamp_ns=10**9).entries[0]
    assert clamped.mtime_ns == 10**9


def test_cannot_replace_a_directory_with_a_file(ctx, store, base_image):
    lower = ImageFS.of_image(store, base_image)
    with pytest.raises(CopyError, match="non-directory"):
        plan(ctx, ["f.txt"], "/etc/passwd/x", lower=lower)


def test_copy_from_an_image_keeps_owners_unless_chowned(store):
    from imagehelpers import make_image

    image = make_image(store, [[("app", "dir", None, {"uid": 5, "gid": 6}),
                                ("app/bin", "file", b"x", {"uid": 5, "gid": 6, "mode": 0o750})]])
    tree = ImageFS.of_image(store, image)

    def from_image(**kw):
        req = CopyRequest(Source(tree, "image x", ("/app",)), "/opt/app", "/", ImageFS(None, []),
                          now_ns=NOW, keep_owners=True, **kw)
        return summary(plan_copy(req))

    kept = from_image()
    assert kept["opt/app/bin"] == ("file", "0o750", 5, 6)
    assert kept["opt/app"] == ("dir", "0o755", 0, 0)  # the destination dir is created as root
    assert from_image(chown=(1, 2))["opt/app/bin"] == ("file", "0o750", 1, 2)
