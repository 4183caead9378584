"""A build cache shared through the real registry: the first store builds with --cache-to,
a second, empty store (another machine: another context path, other mtimes and inodes)
builds the same Dockerfile with --cache-from and every step comes from the cache, with
the same final image and only the blobs that image needs."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from buildreghelp import cli, ok

pytestmark = pytest.mark.registry

DOCKERFILE = """\
FROM {base}
COPY app.txt /app/app.txt
ENV MODE=prod
RUN cat /app/app.txt > /app/copy.txt && echo built >> /app/copy.txt
WORKDIR /app
LABEL org.example.stage=final
CMD ["cat", "/app/copy.txt"]
"""
STEPS = 6  # after FROM


def using_cache(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    return [lines[i - 1] for i, line in enumerate(lines) if line.startswith("--> Using cache")]


def store_blobs(root) -> set[str]:
    return {"sha256:" + p.name for p in (root / "blobs" / "sha256").iterdir()}


@pytest.fixture
def first_build(rb, base_ref, context_dir, plain_env, registry, tmp_path):
    cache = f"{registry}/buildreg/cache-{tmp_path.name}"
    context = context_dir(DOCKERFILE.format(base=base_ref), **{"app.txt": "application\n"})
    built = ok(rb("build", "--cache-to", cache, "-t", "app:1", context, env=plain_env))
    assert using_cache(built.stdout) == []
    assert f"Exporting build cache to {cache}:buildcache" in built.stderr
    return cache, context, built


def test_second_store_builds_everything_from_the_cache(rb, first_build, other_store, tmp_path, plain_env):
    cache, context, first = first_build
    moved = tmp_path / "elsewhere" / "checkout"  # another path; files rewritten: new inodes, mtimes
    shutil.copytree(context, moved)
    for path in moved.iterdir():
        path.write_bytes(path.read_bytes())
        os.utime(path, (1_600_000_000, 1_600_000_000))

    second = ok(cli(other_store, "build", "--cache-from", cache, "-t", "app:1", moved, env=plain_env))
    assert len(using_cache(second.stdout)) == STEPS, second.stdout
    assert second.stdout.strip().splitlines()[-1] == first.stdout.strip().splitlines()[-1]  # same image ID

    from rootless_build.store import Store

    image = Store.open(other_store).resolve("app:1")
    assert image.id == Store.open(rb.root).resolve("app:1").id
    proc = ok(cli(other_store, "inspect", "app:1"))
    assert "org.example.stage" in proc.stdout


def test_only_the_needed_steps_are_fetched(rb, first_build, other_store, context_dir, base_ref, plain_env):
    """A second Dockerfile in the same cache shares the first steps, then adds a big layer:
    building the first Dockerfile elsewhere never downloads that layer."""
    cache, context, _ = first_build
    big = context_dir(DOCKERFILE.format(base=base_ref).replace("ENV MODE=prod", "COPY big.bin /big.bin\nENV MODE=prod"),
                      **{"app.txt": "application\n", "big.bin": "x" * 3_000_000})
    ok(rb("build", "--cache-to", cache, "-t", "big:1", big, env=plain_env))

    from rootless_build.store import Store

    first_store = Store.open(rb.root)
    big_layer = first_store.resolve("big:1").manifest.layers[2].digest  # the COPY big.bin layer

    second = ok(cli(other_store, "build", "--cache-from", cache, "-t", "app:1", context, env=plain_env))
    assert len(using_cache(second.stdout)) == STEPS
    blobs = store_blobs(other_store)
    assert big_layer not in blobs
    image = Store.open(other_store).resolve("app:1")
    for layer in image.manifest.layers:
        assert layer.digest in blobs


def test_cache_artifact_is_readable_by_skopeo(first_build, tool, rb):
    cache, _, _ = first_build
    raw = tool("skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{cache}:buildcache").stdout
    manifest = json.loads(raw)
    assert manifest["artifactType"] == "application/vnd.rootless-build.cache.v1"
    assert manifest["config"]["mediaType"] == "application/vnd.rootless-build.cache.config.v1+json"
    from rootless_build.store import Store

    final = Store.open(rb.root).resolve("app:1")
    listed = {d["digest"] for d in manifest["layers"]}
    assert final.manifest_digest in listed and final.id in listed


def test_unreachable_cache_from_warns_and_builds(rb, base_ref, context_dir, plain_env):
    context = context_dir(f"FROM {base_ref}\nENV X=1\n")
    built = ok(rb("build", "--cache-from", "127.0.0.1:9/buildreg/cache", context, env=plain_env))
    assert "WARNING: --cache-from 127.0.0.1:9/buildreg/cache:" in built.stderr
    assert "connection refused" in built.stderr


def test_unreachable_cache_to_fails_in_one_line(rb, base_ref, context_dir, plain_env):
    failed = rb("build", "--cache-to", "127.0.0.1:9/buildreg/cache", context_dir(f"FROM {base_ref}\nENV X=2\n"),
                env=plain_env)
    assert failed.returncode != 0
    last = failed.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: --cache-to 127.0.0.1:9/buildreg/cache: ") and "connection refused" in last
