"""search over the real registry's catalog and tag lists."""

from __future__ import annotations

import pytest
from reghelp import skopeo_copy

pytestmark = pytest.mark.registry


@pytest.fixture(scope="session")
def catalog(registry, busybox_layout) -> str:
    for repo, tag in [("e2e-search/alpha", "1"), ("e2e-search/alpha", "2"), ("e2e-search/beta", "1"),
                      ("e2e-elsewhere/gamma", "1")]:
        skopeo_copy(busybox_layout.ref(), f"docker://{registry}/{repo}:{tag}")
    return registry


def rows(stdout: str) -> dict[str, set[str]]:
    lines = stdout.splitlines()
    assert lines[0].split() == ["NAME", "TAGS"]
    out = {}
    for line in lines[1:]:
        name, _, tags = line.partition(" ")
        out[name] = {t.strip() for t in tags.strip().split(",") if t.strip()}
    return out


def test_search_prints_names_and_tags(rb, catalog, isolated_env):
    proc = rb("search", f"{catalog}/e2e-search", env=isolated_env)
    assert proc.returncode == 0, proc.stderr
    assert rows(proc.stdout) == {f"{catalog}/e2e-search/alpha": {"1", "2"}, f"{catalog}/e2e-search/beta": {"1"}}


def test_search_limit(rb, catalog, isolated_env):
    proc = rb("search", "--limit", "1", f"{catalog}/e2e-search", env=isolated_env)
    assert proc.returncode == 0, proc.stderr
    assert len(rows(proc.stdout)) == 1


def test_search_bare_term_uses_the_search_registries(rb, catalog, isolated_env, tmp_path):
    conf = tmp_path / "search.conf"
    conf.write_text(f'unqualified-search-registries = ["{catalog}"]\n')
    proc = rb("search", "gamma", env={**isolated_env, "CONTAINERS_REGISTRIES_CONF": str(conf)})
    assert proc.returncode == 0, proc.stderr
    assert rows(proc.stdout) == {f"{catalog}/e2e-elsewhere/gamma": {"1"}}


def test_catalog_pages_are_followed(catalog):
    from rootless_build.registry.search import search

    hits = search(f"{catalog}/e2e-search", limit=0, page_size=1)
    assert sorted(h.name for h in hits) == [f"{catalog}/e2e-search/alpha", f"{catalog}/e2e-search/beta"]


def test_unreachable_registry(rb, isolated_env):
    from reghelp import free_port

    proc = rb("search", f"127.0.0.1:{free_port()}/x", env=isolated_env)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
