"""Names resolved as podman and skopeo resolve them (containers-registries.conf), against
the real registry, and ensure_image (what FROM and COPY --from call) with each policy."""

from __future__ import annotations

import json

import pytest
from reghelp import ok

pytestmark = pytest.mark.registry


@pytest.fixture
def conf_env(isolated_env, tmp_path):
    """Write registries.conf content; returns the environment that selects it."""

    def write(text: str) -> dict:
        path = tmp_path / "registries.conf"
        path.write_text(text)
        return {**isolated_env, "CONTAINERS_REGISTRIES_CONF": str(path)}

    return write


def tags(store) -> list[str]:
    entries = json.loads((store / "index.json").read_text())["manifests"]
    return [(e.get("annotations") or {}).get("org.opencontainers.image.ref.name") for e in entries]


def test_short_name_goes_through_the_search_registries(rb, registry, pushed_busybox, conf_env):
    env = conf_env(f'unqualified-search-registries = ["127.0.0.1:1", "{registry}"]\n')
    proc = ok(rb("pull", "e2e/busybox", env=env))
    assert proc.stdout.splitlines()[-1] == f"{registry}/e2e/busybox:latest"
    assert tags(rb.root) == [f"{registry}/e2e/busybox:latest"]


def test_short_name_alias(rb, registry, pushed_busybox, conf_env):
    env = conf_env(f'unqualified-search-registries = ["127.0.0.1:1"]\n[aliases]\n"bb" = "{registry}/e2e/busybox"\n')
    proc = ok(rb("pull", "-q", "bb", env=env))
    assert proc.stdout.strip() == f"{registry}/e2e/busybox:latest"


def test_registry_location_maps_docker_io_to_a_local_registry(rb, registry, pushed_busybox, conf_env):
    """An offline site: docker.io/library/* is served by its own registry, Dockerfiles unchanged."""
    env = conf_env(f'[[registry]]\nprefix = "docker.io/library"\nlocation = "{registry}/e2e"\n')
    proc = ok(rb("pull", "busybox", env=env))
    assert proc.stdout.splitlines()[-1] == "docker.io/library/busybox:latest"
    assert tags(rb.root) == ["docker.io/library/busybox:latest"]
    ok(rb("inspect", "busybox"))


def test_mirror_is_tried_first_then_the_primary(rb, registry, pushed_busybox, conf_env, fault_proxy):
    env = conf_env(f'[[registry]]\nprefix = "example.invalid/team"\nlocation = "{registry}/e2e"\n'
                   f'[[registry.mirror]]\nlocation = "{fault_proxy.address}/e2e-empty-mirror"\n'
                   f'[[registry.mirror]]\nlocation = "{fault_proxy.address}/e2e"\n')
    proc = ok(rb("pull", "-q", "example.invalid/team/busybox", env=env))
    assert proc.stdout.strip() == "example.invalid/team/busybox:latest"
    # (the attestation lookup by the sha256-<hex> tag fallback is asked of the same mirror after)
    paths = [s.path for s in fault_proxy.seen if "/manifests/" in s.path and "/manifests/sha256-" not in s.path]
    assert paths == ["/v2/e2e-empty-mirror/busybox/manifests/latest", "/v2/e2e/busybox/manifests/latest"]
    assert fault_proxy.requests("GET", "/blobs/"), "the blobs came from the mirror that has the image"


def test_blocked_registry(rb, registry, conf_env):
    env = conf_env(f'[[registry]]\nlocation = "{registry}"\nblocked = true\n')
    proc = rb("pull", f"{registry}/e2e/busybox", env=env)
    assert proc.returncode == 1 and "blocked" in proc.stderr and proc.stderr.count("\n") == 1


def test_user_config_and_drop_ins(rb, registry, pushed_busybox, isolated_env, tmp_path):
    """Without CONTAINERS_REGISTRIES_CONF: ~/.config/containers/registries.conf, then its
    registries.conf.d/*.conf in order, the last one winning."""
    base = tmp_path / "config" / "containers"
    (base / "registries.conf.d").mkdir(parents=True)
    (base / "registries.conf").write_text('unqualified-search-registries = ["127.0.0.1:1"]\n')
    (base / "registries.conf.d" / "10-first.conf").write_text('unqualified-search-registries = ["127.0.0.1:2"]\n')
    (base / "registries.conf.d" / "20-second.conf").write_text(f'unqualified-search-registries = ["{registry}"]\n')
    (base / "registries.conf.d" / "30-ignored.txt").write_text("not toml at all [")
    env = {**isolated_env, "CONTAINERS_REGISTRIES_CONF": None, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    proc = ok(rb("pull", "-q", "e2e/busybox", env=env))
    assert proc.stdout.strip() == f"{registry}/e2e/busybox:latest"


def test_broken_registries_conf_is_a_one_line_error(rb, conf_env):
    proc = rb("pull", "busybox", env=conf_env("unqualified-search-registries = [\n"))
    assert proc.returncode == 1 and "registries.conf" in proc.stderr and proc.stderr.count("\n") == 1


# --- ensure_image ----------------------------------------------------------------------------


def test_ensure_image_policies(store_root, registry, pushed_busybox, fault_proxy):
    from rootless_build.errors import ImageNotFound
    from rootless_build.registry.conf import RegistriesConf
    from rootless_build.registry.ensure import ensure_image
    from rootless_build.store import Store

    store = Store.open(store_root)
    conf = RegistriesConf()
    ref = f"{fault_proxy.address}/e2e/busybox"
    with pytest.raises(ImageNotFound):
        ensure_image(store, ref, pull_policy="never", conf=conf)
    assert fault_proxy.seen == []

    image = ensure_image(store, ref, conf=conf)  # missing: pulls
    assert image.tags == (f"{ref}:latest",)
    assert fault_proxy.requests("GET", "/blobs/")
    seen = len(fault_proxy.seen)

    assert ensure_image(store, ref, conf=conf).manifest_digest == image.manifest_digest
    assert ensure_image(store, ref, pull_policy="never", conf=conf).manifest_digest == image.manifest_digest
    assert len(fault_proxy.seen) == seen  # the store answered: no request at all

    again = ensure_image(store, ref, pull_policy="always", conf=conf)
    assert again.manifest_digest == image.manifest_digest
    new = fault_proxy.seen[seen:]
    assert any("/manifests/" in s.path for s in new) and not any("/blobs/" in s.path for s in new)

    # By digest: found in the store, no request.
    seen = len(fault_proxy.seen)
    by_digest = ensure_image(store, f"{ref}@{image.manifest_digest}", conf=conf)
    assert by_digest.manifest_digest == image.manifest_digest and len(fault_proxy.seen) == seen


def test_ensure_image_errors_name_the_reference(store_root, registry, fault_proxy, pushed_busybox, monkeypatch):
    monkeypatch.setenv("RB_REGISTRY_RETRY_BASE", "0.05")
    from rootless_build.errors import RegistryError
    from rootless_build.registry.conf import RegistriesConf
    from rootless_build.registry.ensure import ensure_image
    from rootless_build.store import Store

    store = Store.open(store_root)
    with pytest.raises(RegistryError) as info:
        ensure_image(store, f"{registry}/e2e/nope:1", conf=RegistriesConf())
    assert str(info.value).startswith(f"pulling {registry}/e2e/nope:1: ")
    assert "manifest unknown" in str(info.value) and "\n" not in str(info.value)

    # newer: the registry is down, the store's copy will do.
    ref = f"{fault_proxy.address}/e2e/busybox"
    image = ensure_image(store, ref, conf=RegistriesConf())
    fault_proxy.add("GET", "/manifests/", "status", status=503, times=None)
    assert ensure_image(store, ref, pull_policy="newer", conf=RegistriesConf()).manifest_digest == image.manifest_digest
    with pytest.raises(RegistryError):
        ensure_image(store, ref, pull_policy="always", conf=RegistriesConf())
