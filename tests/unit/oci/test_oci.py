"""Digests, chain ids, references and model parsing."""

from __future__ import annotations

import hashlib

import pytest

from rootless_build.errors import UsageError
from rootless_build.oci import digest as dg
from rootless_build.oci import reference
from rootless_build.oci.models import InvalidDocument, parse_config, parse_manifest


def test_chain_ids_follow_the_spec():
    a, b = dg.of_bytes(b"a"), dg.of_bytes(b"b")
    expected = "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()
    assert dg.chain_ids([a, b]) == [a, expected]


@pytest.mark.parametrize("text", ["sha256:abc", "md5:" + "0" * 32, "sha256:" + "G" * 64, ""])
def test_bad_digests_are_refused(text):
    with pytest.raises(dg.InvalidDigest):
        dg.parse(text)


@pytest.mark.parametrize(
    "text,registry,repo,tag,full",
    [
        ("busybox", "", "busybox", "latest", "docker.io/library/busybox:latest"),
        ("localhost:5000/busybox", "localhost:5000", "busybox", "latest", "localhost:5000/busybox:latest"),
        ("quay.io/a/b:1.2", "quay.io", "a/b", "1.2", "quay.io/a/b:1.2"),
        ("user/app:v1", "", "user/app", "v1", "docker.io/user/app:v1"),
        ("localhost/app", "localhost", "app", "latest", "localhost/app:latest"),
    ],
)
def test_references(text, registry, repo, tag, full):
    ref = reference.parse(text)
    assert (ref.registry, ref.repository, ref.tag) == (registry, repo, tag)
    assert str(ref.fully_qualified()) == full


@pytest.mark.parametrize("text", ["Upper", "repo/UPPER", "a:b:c", "x@sha256:zz", ""])
def test_bad_references(text):
    with pytest.raises(UsageError):
        reference.parse(text)


def test_model_parsing_errors_are_one_line():
    with pytest.raises(InvalidDocument) as e:
        parse_manifest(b'{"schemaVersion": 2, "layers": []}')
    assert "config" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(InvalidDocument):
        parse_config(b"not json")
