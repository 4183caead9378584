"""FROM and COPY --from pull what the store lacks from a real docker-registry (images pushed
there by skopeo); `--pull` asks the registry again; a base that cannot be pulled is one
line naming the reference and the reason; TLS and credentials flags pass through."""

from __future__ import annotations

import json
import tarfile

import pytest
from buildreghelp import ok

pytestmark = pytest.mark.registry


def image_config(root, name: str) -> dict:
    from rootless_build.store import Store

    return json.loads(Store.open(root).resolve(name).config_bytes)


def test_from_registry_image_into_empty_store(rb, base_ref, context_dir, plain_env):
    context = context_dir(f"FROM {base_ref}\nCOPY hello.txt /hello.txt\nCMD [\"cat\", \"/hello.txt\"]\n",
                          **{"hello.txt": "hello from the registry\n"})
    built = ok(rb("build", "-t", "app:1", context, env=plain_env))
    assert "1: Pulling from buildreg/base" in built.stderr  # docker's pull progress, on stderr
    assert "Digest: sha256:" in built.stderr
    assert "STEP 2/3: COPY hello.txt /hello.txt" in built.stdout
    assert "Pulling" not in built.stdout
    base = image_config(rb.root, base_ref)
    app = image_config(rb.root, "app:1")
    assert app["rootfs"]["diff_ids"][:-1] == base["rootfs"]["diff_ids"]
    assert app["config"]["Cmd"] == ["cat", "/hello.txt"]
    assert "buildreg/base" in ok(rb("images")).stdout  # the base is stored under its name, as docker does


def test_quiet_build_prints_only_the_id(rb, base_ref, context_dir, plain_env):
    context = context_dir(f"FROM {base_ref}\nENV QUIET=1\n")
    built = ok(rb("build", "-q", context, env=plain_env))
    assert built.stdout.strip().isalnum() and len(built.stdout.strip()) == 64
    assert "Pulling" not in built.stderr and "Digest" not in built.stderr


def test_pull_flag_uses_a_newer_image_under_the_same_tag(rb, registry, publisher, context_dir, plain_env):
    ref = f"{registry}/buildreg/moving:1"
    publisher.push(ref, label="generation=1")
    context = context_dir(f"FROM {ref}\nENV APP=1\n")
    ok(rb("build", "-t", "app:1", context, env=plain_env))
    assert image_config(rb.root, "app:1")["config"]["Labels"]["generation"] == "1"

    publisher.push(ref, label="generation=2")
    again = ok(rb("build", "-t", "app:2", context, env=plain_env))  # the store's copy is enough
    assert "Pulling" not in again.stderr
    assert image_config(rb.root, "app:2")["config"]["Labels"]["generation"] == "1"

    pulled = ok(rb("build", "--pull", "-t", "app:3", context, env=plain_env))
    assert "Status: Downloaded newer image" in pulled.stderr
    assert "Using cache" not in pulled.stdout  # a new base: a new parent for every step
    assert image_config(rb.root, "app:3")["config"]["Labels"]["generation"] == "2"


def test_missing_base_is_one_line_with_the_reference(rb, registry, context_dir, plain_env):
    ref = f"{registry}/buildreg/nosuch:1"
    context = context_dir(f"FROM scratch\nCOPY Dockerfile /\nFROM {ref}\nRUN true\n")
    failed = rb("build", context, env=plain_env)
    assert failed.returncode != 0
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1, failed.stderr
    assert lines[0].startswith(f"Error: Dockerfile:3: FROM {ref}: pulling {ref}: "), lines[0]
    assert "unknown" in lines[0] or "not found" in lines[0]


def test_unreachable_registry_is_one_line(rb, context_dir, plain_env):
    ref = "127.0.0.1:9/buildreg/base:1"  # discard port: nothing listens
    failed = rb("build", context_dir(f"FROM {ref}\n"), env=plain_env)
    assert failed.returncode != 0
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1, failed.stderr
    assert lines[0].startswith(f"Error: Dockerfile:1: FROM {ref}: pulling {ref}: ") and "connection refused" in lines[0]


def test_copy_from_a_registry_image_pulls_it(rb, base_ref, context_dir, plain_env):
    context = context_dir(f"FROM scratch\nCOPY --from={base_ref} /bin/busybox /busybox\n")
    built = ok(rb("build", "-t", "tool:1", context, env=plain_env))
    assert "Pulling from buildreg/base" in built.stderr
    from rootless_build.store import Store

    store = Store.open(rb.root)
    image = store.resolve("tool:1")
    assert len(image.manifest.layers) == 1
    with tarfile.open(store.blobs.path(image.manifest.layers[0].digest)) as tar:
        member = tar.getmember("busybox")
        assert member.isfile() and member.size > 100_000 and member.mode & 0o111


def test_tls_verify_and_creds_pass_through(rb, publisher, secure_registry, context_dir, plain_env):
    ref = f"{secure_registry.address}/buildreg/secure:1"
    publisher.push(ref, creds=secure_registry.creds)
    context = context_dir(f"FROM {ref}\nENV SECURE=1\n")

    untrusted = rb("build", "--creds", secure_registry.creds, context, env=plain_env)
    assert untrusted.returncode != 0
    assert len(untrusted.stderr.strip().splitlines()) == 1, untrusted.stderr
    assert f"pulling {ref}: " in untrusted.stderr and "TLS" in untrusted.stderr

    anonymous = rb("build", "--tls-verify=false", context, env=plain_env)
    assert anonymous.returncode != 0
    assert len(anonymous.stderr.strip().splitlines()) == 1, anonymous.stderr
    assert "authentication required" in anonymous.stderr or "unauthorized" in anonymous.stderr.lower()

    ok(rb("build", "--tls-verify=false", "--creds", secure_registry.creds, "-t", "secure:1", context,
          env=plain_env))
    assert image_config(rb.root, "secure:1")["config"]["Env"][-1] == "SECURE=1"


def test_a_stored_base_needs_no_registry(rb, busybox_tar, context_dir, plain_env):
    """Without --pull, a base the store has is used as it is: its registry is not asked."""
    ref = "127.0.0.1:9/offline/base:1"  # nothing listens there
    ok(rb("import", busybox_tar, ref))
    built = ok(rb("build", "-t", "offline:1", context_dir(f"FROM {ref}\nENV OFFLINE=1\n"), env=plain_env))
    assert "Pulling" not in built.stderr
    failed = rb("build", "--pull", context_dir(f"FROM {ref}\nENV OFFLINE=1\n"), env=plain_env)
    assert failed.returncode != 0 and f"pulling {ref}: " in failed.stderr
