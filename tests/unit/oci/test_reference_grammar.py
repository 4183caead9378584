"""The distribution/reference grammar, table-driven: what parses to what, and docker's
message for each malformed reference."""

from __future__ import annotations

import pytest

from rootless_build.errors import UsageError
from rootless_build.oci import reference

HEX64 = "a" * 64


@pytest.mark.parametrize("text,registry,repository,tag,digest", [
    ("busybox", "", "busybox", "latest", None),
    ("library/busybox:1.36", "", "library/busybox", "1.36", None),
    ("localhost/app", "localhost", "app", "latest", None),
    ("localhost:5000/a/b:v1", "localhost:5000", "a/b", "v1", None),
    ("127.0.0.1:5000/x", "127.0.0.1:5000", "x", "latest", None),
    ("[::1]:5000/x:t", "[::1]:5000", "x", "t", None),
    ("Quay.IO/org/app", "Quay.IO", "org/app", "latest", None),  # hosts may have capitals
    ("a__b/c.d/e-f--g:T_a.g-1", "", "a__b/c.d/e-f--g", "T_a.g-1", None),
    (f"x@sha256:{HEX64}", "", "x", None, f"sha256:{HEX64}"),
    (f"x:t@sha256:{HEX64}", "", "x", "t", f"sha256:{HEX64}"),
    (f"r.io/x@sha512:{'0' * 128}", "r.io", "x", None, f"sha512:{'0' * 128}"),
    ("a" * 255, "", "a" * 255, "latest", None),
    ("x:" + "t" * 128, "", "x", "t" * 128, None),
], ids=lambda v: str(v)[:30])
def test_valid_references(text, registry, repository, tag, digest):
    ref = reference.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)


LOWER = "invalid reference format: repository name must be lowercase"
INVALID = "invalid reference format"


@pytest.mark.parametrize("text,message", [
    ("UPPER/case", LOWER),
    ("Upper", LOWER),
    ("repo/UPPER", LOWER),
    ("localhost:5000/UP", LOWER),
    ("sha256:zz", "invalid reference format: invalid checksum digest length"),
    (f"x@sha256:{'a' * 63}", "invalid reference format: invalid checksum digest length"),
    (f"x@sha256:{'a' * 65}", "invalid reference format: invalid checksum digest length"),
    (f"x@sha256:{'A' * 64}", "invalid reference format: invalid checksum digest format"),
    (f"x@md5:{'a' * 32}", "invalid reference format: unsupported digest algorithm"),
    ("x@sha256:zz", INVALID),
    ("localhost:99999/x", "invalid reference format: invalid port 99999"),
    ("localhost:0/x", "invalid reference format: invalid port 0"),
    ("a" * 256, "invalid reference format: repository name must not be more than 255 characters"),
    ("r.io/" + "a" * 300, "invalid reference format: repository name must not be more than 255 characters"),
    ("x:" + "t" * 129, INVALID),
    ("x:.tag", INVALID),
    ("", INVALID),
    ("a:b:c", INVALID),
    ("a//b", INVALID),
    ("-a", INVALID),
    ("a-", INVALID),
    ("a/b/", INVALID),
    ("a b", INVALID),
    ("x@", INVALID),
    ("x:", INVALID),
    ("a\0b", INVALID),
], ids=lambda v: str(v)[:30])
def test_malformed_references_get_dockers_message(text, message):
    with pytest.raises(UsageError) as e:
        reference.parse(text)
    assert str(e.value) == message


@pytest.mark.parametrize("text,is_id", [
    ("abc", True), ("sha256:" + HEX64, True), ("ab", False), ("sha256:zz", False), ("UPPER", False),
])
def test_looks_like_id(text, is_id):
    assert reference.looks_like_id(text) is is_id
