"""login, logout and authenticated pull/push: basic auth over TLS (htpasswd, a self-signed
certificate) and bearer tokens (docker-registry in token mode with a token server)."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from reghelp import ok, run

pytestmark = pytest.mark.registry


def one_line_error(proc, *needles: str) -> None:
    assert proc.returncode != 0
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("Error: ")
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


def auth_json(env: dict) -> Path:
    return Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json"


@pytest.fixture
def local_busybox(rb, busybox_tar):
    ok(rb("import", "-c", 'CMD ["sh"]', busybox_tar, "e2e-auth/busybox:1"))
    return "e2e-auth/busybox:1"


# --- basic auth behind TLS ----------------------------------------------------------------------


def test_login_with_a_wrong_password_fails_in_one_line(rb, tls_registry, isolated_env):
    proc = rb("login", "-u", tls_registry.username, "--password-stdin", "--cert-dir", tls_registry.cert_dir,
              tls_registry.address, input="not the password\n", env=isolated_env)
    one_line_error(proc, f"logging in to {tls_registry.address}", "invalid username/password")
    assert not auth_json(isolated_env).exists()


def test_an_untrusted_certificate_is_refused(rb, tls_registry, isolated_env):
    proc = rb("login", "-u", tls_registry.username, "--password-stdin", tls_registry.address,
              input=tls_registry.password + "\n", env=isolated_env)
    one_line_error(proc, "certificate not trusted", "--cert-dir")


def test_login_push_pull_logout(rb, tls_registry, isolated_env, local_busybox, tmp_path):
    proc = ok(rb("login", "-u", tls_registry.username, "--password-stdin", "--cert-dir", tls_registry.cert_dir,
                 tls_registry.address, input=tls_registry.password + "\n", env=isolated_env))
    assert proc.stdout.strip() == "Login Succeeded!"
    path = auth_json(isolated_env)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    entry = json.loads(path.read_text())["auths"][tls_registry.address]
    assert base64.b64decode(entry["auth"]).decode() == f"{tls_registry.username}:{tls_registry.password}"

    dest = f"{tls_registry.address}/e2e-auth/busybox:1"
    ok(rb("push", "--cert-dir", tls_registry.cert_dir, local_busybox, dest, env=isolated_env))
    # skopeo finds the credentials where we stored them.
    env = {**os.environ, **{k: v for k, v in isolated_env.items() if v is not None}}
    inspected = json.loads(run("skopeo", "inspect", "--cert-dir", tls_registry.cert_dir, f"docker://{dest}",
                               env=env).stdout)
    assert inspected["Architecture"] == "amd64"

    # A second --root (the last one wins) gives an empty store.
    pulled = ok(rb("--root", tmp_path / "other-store", "pull", "-q", "--cert-dir", tls_registry.cert_dir, dest,
                   env=isolated_env))
    assert pulled.stdout.strip() == dest

    out = ok(rb("logout", tls_registry.address, env=isolated_env))
    assert out.stdout.strip() == f"Removed login credentials for {tls_registry.address}"
    assert tls_registry.address not in json.loads(path.read_text())["auths"]
    again = rb("logout", tls_registry.address, env=isolated_env)
    one_line_error(again, "not logged into")
    denied = rb("pull", "--tls-verify=false", dest, env=isolated_env)
    one_line_error(denied, "authentication required")


def test_docker_config_json_is_read(rb, tls_registry, isolated_env, local_busybox):
    docker = Path(isolated_env["DOCKER_CONFIG"])
    docker.mkdir()
    token = base64.b64encode(f"{tls_registry.username}:{tls_registry.password}".encode()).decode()
    (docker / "config.json").write_text(json.dumps({"auths": {f"https://{tls_registry.address}": {"auth": token}}}))
    ok(rb("push", "--tls-verify=false", local_busybox, f"{tls_registry.address}/e2e-auth/docker-config:1",
          env=isolated_env))


def test_credential_helper_is_asked(rb, tls_registry, isolated_env, local_busybox, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    asked = tmp_path / "asked"
    helper = bin_dir / "docker-credential-rbtest"
    answer = json.dumps({"ServerURL": tls_registry.address, "Username": tls_registry.username,
                         "Secret": tls_registry.password})
    helper.write_text(f"#!/bin/sh\n[ \"$1\" = get ] || exit 1\ncat > {asked}\necho '{answer}'\n")
    helper.chmod(0o755)
    docker = Path(isolated_env["DOCKER_CONFIG"])
    docker.mkdir()
    (docker / "config.json").write_text(json.dumps({"credHelpers": {tls_registry.address: "rbtest"}}))
    env = {**isolated_env, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    ok(rb("push", "--cert-dir", tls_registry.cert_dir, local_busybox, f"{tls_registry.address}/e2e-auth/helper:1",
          env=env))
    assert asked.read_text().strip() == tls_registry.address


def test_creds_flag(rb, tls_registry, isolated_env, local_busybox):
    dest = f"{tls_registry.address}/e2e-auth/creds:1"
    wrong = rb("push", "--tls-verify=false", "--creds", f"{tls_registry.username}:nope", local_busybox, dest,
               env=isolated_env)
    one_line_error(wrong, "authentication required")
    ok(rb("push", "--tls-verify=false", "--creds", f"{tls_registry.username}:{tls_registry.password}",
          local_busybox, dest, env=isolated_env))


def test_insecure_in_registries_conf_allows_an_untrusted_certificate(rb, tls_registry, isolated_env, tmp_path,
                                                                   local_busybox):
    conf = tmp_path / "insecure.conf"
    conf.write_text(f'[[registry]]\nlocation = "{tls_registry.address}"\ninsecure = true\n')
    env = {**isolated_env, "CONTAINERS_REGISTRIES_CONF": str(conf)}
    creds = f"{tls_registry.username}:{tls_registry.password}"
    ok(rb("push", "--creds", creds, local_busybox, f"{tls_registry.address}/e2e-auth/insecure:1", env=env))
    # --tls-verify=true overrides registries.conf.
    proc = rb("push", "--tls-verify=true", "--creds", creds, local_busybox,
              f"{tls_registry.address}/e2e-auth/insecure:1", env=env)
    one_line_error(proc, "certificate not trusted")


# --- bearer tokens ------------------------------------------------------------------------------


def test_bearer_login_push_and_pull(rb, bearer_registry, isolated_env, local_busybox, tmp_path):
    address = bearer_registry.address
    wrong = rb("login", "-u", bearer_registry.username, "--password-stdin", address, input="bad\n",
               env=isolated_env)
    one_line_error(wrong, "invalid username/password")
    ok(rb("login", "-u", bearer_registry.username, "--password-stdin", address,
          input=bearer_registry.password + "\n", env=isolated_env))
    dest = f"{address}/e2e-bearer/busybox:1"
    ok(rb("push", local_busybox, dest, env=isolated_env))
    scopes = [s for r in bearer_registry.tokens.seen for s in r.scopes]
    assert "repository:e2e-bearer/busybox:pull,push" in scopes
    assert all(r.account == bearer_registry.username for r in bearer_registry.tokens.seen if r.status == 200)
    ok(rb("--root", str(tmp_path / "second"), "pull", "-q", dest, env=isolated_env))
    hits = ok(rb("search", f"{address}/e2e-bearer", env=isolated_env)).stdout.splitlines()
    assert hits[1].split() == [f"{address}/e2e-bearer/busybox", "1"]
    # Anonymous: the token server hands out a token with no access; the registry says no.
    ok(rb("logout", address, env=isolated_env))
    denied = rb("--root", str(tmp_path / "third"), "pull", dest, env=isolated_env)
    one_line_error(denied, "e2e-bearer/busybox")
