"""ARG scoping and expansion (FROM, COPY, ENV), platform args, --build-arg, --target."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from buildhelpers import run_build
from imagehelpers import make_image

from rootless_build.errors import BuildError, DockerfileError, UsageError


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    path = tmp_path / "ctx"
    path.mkdir()
    (path / "file-1.txt").write_text("one")
    (path / "file-2.txt").write_text("two")
    return path


def env(built) -> dict[str, str]:
    return dict(item.split("=", 1) for item in built.container["Env"])


def test_global_args_reach_from_only_until_redeclared(store, ctx):
    make_image(store, [[("x", "file", b"x")]], tag="base:2")
    dockerfile = """\
ARG TAG=1
ARG UNSEEN=global
FROM base:${TAG}
ARG TAG
ENV SEEN_TAG=$TAG NOT_SEEN=${UNSEEN:-unset}
"""
    built = run_build(store, ctx, dockerfile, build_args={"TAG": "2"})
    assert env(built)["SEEN_TAG"] == "2"
    assert env(built)["NOT_SEEN"] == "unset"


def test_stage_defaults_build_args_and_env_precedence(store, ctx):
    dockerfile = """\
FROM scratch
ARG A=default
ARG B=default
ENV B=from-env
ARG B=again
ENV OUT_A=$A OUT_B=$B
"""
    built = run_build(store, ctx, dockerfile, build_args={"A": "given", "UNUSED": "x"})
    assert env(built)["OUT_A"] == "given"
    assert env(built)["OUT_B"] == "from-env"  # ENV wins over ARG
    assert "UNUSED" in built.warnings


def test_args_are_scoped_per_stage(store, ctx):
    dockerfile = """\
FROM scratch AS one
ARG X=in-one
FROM scratch
ENV X=${X:-not-here}
"""
    assert env(run_build(store, ctx, dockerfile))["X"] == "not-here"


def test_platform_args(store, ctx):
    dockerfile = """\
FROM --platform=$BUILDPLATFORM scratch
ARG TARGETPLATFORM
ARG TARGETARCH
ENV P=$TARGETPLATFORM A=$TARGETARCH NONE=${BUILDOS:-undeclared}
"""
    values = env(run_build(store, ctx, dockerfile))
    assert values["P"] == "linux/amd64" and values["A"] == "amd64"
    assert values["NONE"] == "undeclared"  # predefined, but only visible once declared


def test_args_in_copy_sources_and_destination(store, ctx):
    dockerfile = """\
FROM scratch
ARG N=1
ARG DEST=/out
COPY file-${N}.txt ${DEST}/
"""
    built = run_build(store, ctx, dockerfile, build_args={"N": "2"})
    assert "COPY file:" in built.history[-1]["created_by"]
    assert built.history[-1]["created_by"].endswith(" in /out/ ")
    layer = built.image.manifest.layers[-1].digest
    with tarfile.open(store.blobs.path(layer)) as tar:
        assert tar.getnames() == ["out", "out/file-2.txt"]
        assert tar.extractfile("out/file-2.txt").read() == b"two"


def test_target_builds_only_what_it_needs(store, ctx):
    dockerfile = """\
FROM scratch AS unused
COPY nosuch /never
FROM scratch AS dep
COPY file-1.txt /
FROM scratch AS final
COPY --from=dep /file-1.txt /copied
FROM scratch AS after
COPY nosuch /never
"""
    built = run_build(store, ctx, dockerfile, target="final")
    steps = [line for line in built.output.splitlines() if line.startswith("STEP")]
    assert steps == ["STEP 1/4: FROM scratch AS dep", "STEP 2/4: COPY file-1.txt /",
                     "STEP 3/4: FROM scratch AS final", "STEP 4/4: COPY --from=dep /file-1.txt /copied"]
    with pytest.raises(UsageError, match="target stage 'nope'"):
        run_build(store, ctx, dockerfile, target="nope")


def test_errors_name_the_line(store, ctx):
    with pytest.raises(BuildError, match=r"^Dockerfile:2: COPY nosuch /x: nosuch: no such file"):
        run_build(store, ctx, "FROM scratch\nCOPY nosuch /x\n")
    with pytest.raises(BuildError, match=r"^Dockerfile:1: FROM nosuch:1: image not known"):
        run_build(store, ctx, "FROM nosuch:1\n", pull="never")
    with pytest.raises(DockerfileError, match=r"^Dockerfile:2: unknown instruction: BOGUS"):
        run_build(store, ctx, "FROM scratch\nBOGUS x\n")
    with pytest.raises(UsageError, match="only linux images"):
        run_build(store, ctx, "FROM scratch\n", platform="windows/amd64")
