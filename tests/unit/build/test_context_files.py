"""The Dockerfile and .dockerignore inside the context are read through the context's fd:
links inside the context work, links that leave it never read outside (issue 11 item 7)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rootless_build.builder.context import BuildContext
from rootless_build.builder.dockerfilesource import read_dockerfile
from rootless_build.builder.options import BuildOptions
from rootless_build.errors import BuildError, UsageError


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    (tmp_path / "secret").write_text("FROM secret-content\n")
    root = tmp_path / "ctx"
    (root / "docker").mkdir(parents=True)
    (root / "docker" / "Dockerfile.prod").write_text("FROM busybox\n")
    (root / "f").write_text("f")
    return root


def test_a_dockerfile_link_inside_the_context_is_followed(ctx):
    os.symlink("docker/Dockerfile.prod", ctx / "Dockerfile")
    text, name, _ = read_dockerfile(BuildOptions(context_dir=str(ctx)))
    assert text == "FROM busybox\n" and name == "Dockerfile"


@pytest.mark.parametrize("target", ["{secret}", "../secret", "docker/../../secret"])
def test_a_dockerfile_link_never_reads_outside(ctx, target):
    os.symlink(target.format(secret=ctx.parent / "secret"), ctx / "Dockerfile")
    with pytest.raises(UsageError, match="no Dockerfile found"):
        read_dockerfile(BuildOptions(context_dir=str(ctx)))


def test_a_dockerfile_given_outside_the_context_is_read_by_path(ctx):
    text, _, _ = read_dockerfile(BuildOptions(context_dir=str(ctx), dockerfile=str(ctx.parent / "secret")))
    assert text == "FROM secret-content\n"


def test_a_dockerignore_link_that_leaves_is_refused(ctx):
    os.symlink(str(ctx.parent / "secret"), ctx / ".dockerignore")
    with pytest.raises(UsageError, match="cannot read"):
        BuildContext.load(ctx, None)


def test_a_dockerignore_is_read_through_the_context(ctx):
    (ctx / ".dockerignore").write_text("f\n")
    context = BuildContext.load(ctx, None)
    try:
        assert context.lstat("f") is None and context.lstat("docker") is not None
    finally:
        context.close()


def test_a_file_replaced_after_its_lstat_is_refused(ctx):
    context = BuildContext.load(ctx, None)
    try:
        node = context.node("f")
        os.rename(ctx / "f", ctx / "f.old")
        os.symlink(str(ctx.parent / "secret"), ctx / "f")
        with pytest.raises(BuildError, match="changed during the build"):
            context.open("f", node)
        os.unlink(ctx / "f")
        (ctx / "f").write_text("other inode")
        with pytest.raises(BuildError, match="changed during the build"):
            context.open("f", node)
    finally:
        context.close()


def test_a_directory_replaced_by_a_link_is_never_entered(ctx):
    context = BuildContext.load(ctx, None)
    try:
        assert context.node("docker") is not None
        os.rename(ctx / "docker", ctx / "docker.old")
        os.symlink(str(ctx.parent), ctx / "docker")
        assert context.lstat("docker/secret") is None
        with pytest.raises(BuildError, match="changed during the build"):
            context.listdir("docker")
    finally:
        context.close()
