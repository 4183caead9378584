"""Step cache keys are portable: the same Dockerfile and file contents give the same keys in
another store, from another context directory, with other mtimes and inodes (what a
registry-shared cache needs); the build remembers every step's key for --cache-to; the
pull policy and a base that may not be pulled."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from rootless_build.builder.builder import Builder
from rootless_build.builder.options import BuildOptions
from rootless_build.builder.progress import Progress
from rootless_build.builder.stages import BaseImageNotFound, find_base_image
from rootless_build.store import Store
from rootless_build.store.roots import BUILD_CACHE

DOCKERFILE = """\
FROM scratch
COPY app/ /app/
COPY --chmod=0755 run.sh /usr/local/bin/run
ADD bundle.tar /opt/
ENV MODE=prod
WORKDIR /app
CMD ["/usr/local/bin/run"]
"""


def make_context(path: Path, mtime: int) -> Path:
    (path / "app" / "sub").mkdir(parents=True)
    (path / "app" / "main.txt").write_text("main\n")
    (path / "app" / "sub" / "data.txt").write_text("data\n")
    (path / "run.sh").write_text("#!/bin/sh\necho run\n")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("inside.txt")
        info.size, info.mtime = 7, 1_500_000_000
        tar.addfile(info, io.BytesIO(b"inside\n"))
    (path / "bundle.tar").write_bytes(buffer.getvalue())
    (path / "Dockerfile").write_text(DOCKERFILE)
    for item in [path, *path.rglob("*")]:
        os.utime(item, (mtime, mtime))
    return path


def run(store: Store, context: Path, **options) -> Builder:
    out = io.StringIO()
    builder = Builder(store, BuildOptions(context_dir=str(context), **options), Progress(out=out, err=io.StringIO()))
    builder.run()
    builder.output = out.getvalue()
    return builder


def keys(store: Store) -> set[str]:
    """The step keys the store has records for (file names spell `sha256:` as `sha256-`)."""
    return {key.replace("sha256-", "sha256:", 1) for key, _ in store.records(BUILD_CACHE)}


def test_keys_do_not_depend_on_paths_mtimes_or_inodes(tmp_path):
    """Another checkout (path, mtimes, inodes all new) finds every step: each key holds
    only contents and the parent step's image, which the cache then provides."""
    store = Store.open(tmp_path / "one")
    first = run(store, make_context(tmp_path / "ctx-one", 1_600_000_000))
    elsewhere = tmp_path / "another" / "checkout"
    elsewhere.mkdir(parents=True)
    moved = run(store, make_context(elsewhere, 1_700_000_000))
    assert moved.output.count("--> Using cache") == 6
    assert list(moved.step_cache.steps) == list(first.step_cache.steps)
    # Another store computes the first key (its parent is scratch) exactly the same.
    other = run(Store.open(tmp_path / "two"), make_context(tmp_path / "ctx-two", 1_650_000_000))
    assert list(other.step_cache.steps)[0] == list(first.step_cache.steps)[0]
    assert len(first.step_cache.steps) == 6 and keys(first.store) >= set(first.step_cache.steps)


def test_content_changes_the_key_from_that_step_on(tmp_path):
    store = Store.open(tmp_path / "one")
    one = run(store, make_context(tmp_path / "a", 1_600_000_000))
    context = make_context(tmp_path / "b", 1_600_000_000)
    (context / "run.sh").write_text("#!/bin/sh\necho changed\n")
    two = run(store, context)
    assert two.output.count("--> Using cache") == 1
    a, b = list(one.step_cache.steps), list(two.step_cache.steps)
    assert a[0] == b[0] and a[1] != b[1]


def test_every_step_is_remembered_for_cache_to_even_when_cached(tmp_path):
    store = Store.open(tmp_path / "store")
    context = make_context(tmp_path / "ctx", 1_600_000_000)
    first = run(store, context)
    again = run(store, context)
    assert again.output.count("--> Using cache") == 6
    assert list(again.step_cache.steps) == list(first.step_cache.steps)
    assert [i.id for i in again.step_cache.steps.values()] == [i.id for i in first.step_cache.steps.values()]


@pytest.mark.parametrize("pull, policy", [(False, "missing"), (True, "always"), ("never", "never"),
                                          ("newer", "newer"), ("true", "always"), ("false", "missing")])
def test_pull_policy(pull, policy):
    assert BuildOptions(pull=pull).pull_policy() == policy


def test_never_pull_is_one_line_and_a_stored_base_is_found_once(tiny_store):
    store, image = tiny_store
    options = BuildOptions(pull="never")
    with pytest.raises(BaseImageNotFound, match=r'^image not known: nosuch:1 \(and the pull policy is "never"\)$'):
        find_base_image(store, "nosuch:1", options=options)
    found = find_base_image(store, "tiny:1", options=options)
    assert found.manifest_digest == image.manifest_digest
    assert options.found_images["tiny:1"] is found  # FROM and --from of one name: one lookup
    assert find_base_image(store, "tiny:1", options=options) is found


@pytest.fixture
def tiny_store(tmp_path):
    """A store holding one tiny image tagged tiny:1 (made by a build from scratch)."""
    store = Store.open(tmp_path / "store")
    context = tmp_path / "tiny"
    context.mkdir()
    (context / "f").write_text("f\n")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY f /f\n")
    run(store, context, tags=["tiny:1"])
    return store, store.resolve("tiny:1")
