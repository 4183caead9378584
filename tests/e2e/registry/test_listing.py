"""Regressions of issue 17 in the image list: SIZE is the uncompressed size in every
store, and an image pulled by digest lists its repository (docker's REPOSITORY, TAG
<none>, DIGEST kept)."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from reghelp import ok, skopeo_raw

pytestmark = pytest.mark.registry


def rows(proc) -> list[list[str]]:
    return [line.split() for line in ok(proc).stdout.splitlines()]


def test_size_is_the_same_in_the_store_that_built_and_the_one_that_pulled(rb, registry, busybox_tar,
                                                                          isolated_env, tmp_path):
    name = f"{registry}/e2e/sizes:latest"
    ok(rb("import", busybox_tar, name))
    ok(rb("push", name, env=isolated_env))      # pushed gzip-compressed
    other = tmp_path / "other-store"
    ok(rb("--root", other, "pull", "-q", name, env=isolated_env))
    raw = json.loads(skopeo_raw(f"docker://{name}"))
    assert raw["layers"][0]["mediaType"].endswith("gzip")
    compressed = sum(layer["size"] for layer in raw["layers"])

    fmt = "{{.ID}} {{.Size}}"
    built = ok(rb("images", "--format", fmt, name)).stdout
    pulled = ok(rb("--root", other, "images", "--format", fmt, name)).stdout
    assert built == pulled and built.strip()
    size = '{{.Size}}'
    built_bytes = int(ok(rb("inspect", "-f", size, name)).stdout)
    pulled_bytes = int(ok(rb("--root", other, "inspect", "-f", size, name)).stdout)
    assert built_bytes == pulled_bytes == os.path.getsize(rb.root / "blobs" / "sha256" /
                                                          ok(rb("inspect", "-f", "{{index .RootFS.Layers 0}}",
                                                                name)).stdout.strip()[7:])
    assert pulled_bytes > compressed
    # the measurement is kept: a second listing reads the note, and fsck stays clean
    assert ok(rb("--root", other, "images", "--format", fmt, name)).stdout == pulled
    assert "OK" in ok(rb("--root", other, "fsck")).stdout
    # history takes the uncompressed sizes too
    hist = ok(rb("--root", other, "history", "--format", "{{.Size}}", name)).stdout.split()
    assert hist == ok(rb("history", "--format", "{{.Size}}", name)).stdout.split()


def test_image_pulled_by_digest_lists_its_repository(rb, pushed_busybox, isolated_env):
    digest = "sha256:" + hashlib.sha256(skopeo_raw(f"docker://{pushed_busybox}")).hexdigest()
    repo = pushed_busybox.rsplit(":", 1)[0]
    ok(rb("pull", "-q", f"{repo}@{digest}", env=isolated_env))
    table = rows(rb("images", "--digests"))
    assert table[0][:3] == ["REPOSITORY", "TAG", "DIGEST"]
    assert table[1][:3] == [repo, "<none>", digest]
    assert rows(rb("images"))[1][:2] == [repo, "<none>"]
    # docker: untagged counts as dangling, and the repository answers to a REPOSITORY argument
    assert ok(rb("images", "-q", "--filter", "dangling=true")).stdout.strip()
    assert rows(rb("images", repo))[1][:2] == [repo, "<none>"]
    doc = json.loads(ok(rb("inspect", digest)).stdout)[0]
    assert doc["RepoTags"] == [] and doc["RepoDigests"] == [f"{repo}@{digest}"]


def test_a_local_untagged_image_stays_none(rb, busybox_tar):
    ok(rb("import", busybox_tar))
    assert rows(rb("images"))[1][:2] == ["<none>", "<none>"]


