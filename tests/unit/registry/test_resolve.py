"""From what the user typed to fully qualified names and the places to fetch them from."""

from __future__ import annotations

import pytest

from rootless_build.errors import RegistryError, UsageError
from rootless_build.oci.reference import Reference
from rootless_build.registry.conf import Endpoint, RegistriesConf, RegistryEntry
from rootless_build.registry.resolve import Source, physical, pull_candidates, push_target, qualified_names

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize("text, search, expected", [
    ("busybox", (), ["docker.io/library/busybox:latest"]),
    ("library/busybox:1", (), ["docker.io/library/busybox:1"]),
    ("quay.io/team/app", ("a.example",), ["quay.io/team/app:latest"]),
    ("localhost/app", ("a.example",), ["localhost/app:latest"]),
    ("app:2", ("a.example", "docker.io"), ["a.example/app:2", "docker.io/library/app:2"]),
    (f"team/app@{DIGEST}", ("a.example:5000",), [f"a.example:5000/team/app@{DIGEST}"]),
])
def test_qualified_names(text, search, expected):
    assert [str(n) for n in qualified_names(text, RegistriesConf(search=search))] == expected


def test_alias_keeps_the_tag_and_skips_the_search_list():
    conf = RegistriesConf(search=("a.example",), aliases={"app": "b.example/team/app"})
    assert [str(n) for n in qualified_names("app:3", conf)] == ["b.example/team/app:3"]
    assert [str(n) for n in qualified_names(f"app@{DIGEST}", conf)] == [f"b.example/team/app@{DIGEST}"]


def test_enforcing_mode_refuses_ambiguity_without_a_terminal():
    conf = RegistriesConf(search=("a.example", "b.example"), short_name_mode="enforcing")
    with pytest.raises(UsageError, match="ambiguous"):
        qualified_names("app", conf)
    assert len(qualified_names("a.example/app", conf)) == 1


def test_location_and_mirrors():
    entry = RegistryEntry("docker.io/library", "local.example:5000/hub", mirrors=(
        Endpoint("mirror.example/lib", insecure=True),
        Endpoint("digests.example/lib", pull_from_mirror="digest-only"),
        Endpoint("tags.example/lib", pull_from_mirror="tag-only")))
    conf = RegistriesConf(registries=(entry,))
    (cand,) = pull_candidates("busybox", conf)
    assert str(cand.name) == "docker.io/library/busybox:latest"
    assert [(str(s.ref), s.insecure) for s in cand.sources] == [
        ("mirror.example/lib/busybox:latest", True),
        ("tags.example/lib/busybox:latest", False),
        ("local.example:5000/hub/busybox:latest", False)]
    (by_digest,) = pull_candidates(f"busybox@{DIGEST}", conf)
    assert [s.ref.registry for s in by_digest.sources] == ["mirror.example", "digests.example", "local.example:5000"]


def test_no_matching_table_means_the_name_itself():
    (cand,) = pull_candidates("quay.io/x/y:1", RegistriesConf())
    assert cand.sources == (Source(Reference("quay.io", "x/y", "1")),)


def test_blocked():
    conf = RegistriesConf(registries=(RegistryEntry("bad.example", "bad.example", blocked=True),))
    with pytest.raises(RegistryError, match="blocked"):
        pull_candidates("bad.example/x", conf)
    with pytest.raises(RegistryError, match="blocked"):
        push_target("bad.example/x", conf)


def test_push_target_ignores_locations_but_honours_insecure():
    conf = RegistriesConf(registries=(RegistryEntry("reg.example", "elsewhere.example", insecure=True),))
    target = push_target("reg.example/app", conf)
    assert str(target.ref) == "reg.example/app:latest" and target.insecure
    assert str(push_target("app", RegistriesConf()).ref) == "docker.io/library/app:latest"
    with pytest.raises(UsageError, match="digest"):
        push_target(f"reg.example/app@{DIGEST}", conf)


def test_physical_location_first_component_is_the_host():
    ref = physical("mirror/ns/app:1")  # "mirror" has no dot, still a host in a location
    assert (ref.registry, ref.repository, ref.tag) == ("mirror", "ns/app", "1")
