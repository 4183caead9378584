"""Where credentials are read from and written to (podman's auth.json, docker's config.json,
credential helpers)."""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest

from rootless_build.errors import RegistryError
from rootless_build.registry import credentials
from rootless_build.registry.options import RegistryOptions


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    (tmp_path / "home").mkdir()
    return tmp_path


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def write_json(path, doc) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))


def test_save_writes_a_private_file_that_lookup_reads(home):
    path = credentials.save("reg.example:5000", "alice", "pa:ss")
    assert path == home / "run" / "containers" / "auth.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text()) == {"auths": {"reg.example:5000": {"auth": b64("alice:pa:ss")}}}
    assert credentials.lookup("reg.example:5000") == ("alice", "pa:ss")
    assert credentials.lookup("other.example") is None


def test_save_keeps_other_entries_and_remove_forgets_one(home):
    credentials.save("a.example", "u1", "p1")
    credentials.save("b.example", "u2", "p2")
    assert credentials.remove("a.example") is True
    assert credentials.remove("a.example") is False
    assert credentials.lookup("b.example") == ("u2", "p2")
    credentials.remove_all()
    assert credentials.lookup("b.example") is None


def test_docker_config_and_its_key_spellings(home):
    write_json(home / "home" / ".docker" / "config.json", {"auths": {
        "https://index.docker.io/v1/": {"auth": b64("hub:hubpw")},
        "http://reg.example:5000/v2/": {"username": "u", "password": "p"}}})
    assert credentials.lookup("docker.io") == ("hub", "hubpw")
    assert credentials.lookup("reg.example:5000") == ("u", "p")


def test_podman_file_comes_first_and_namespaces_are_most_specific_first(home):
    write_json(home / "run" / "containers" / "auth.json", {"auths": {
        "reg.example": {"auth": b64("host:1")}, "reg.example/team": {"auth": b64("team:2")}}})
    write_json(home / "home" / ".docker" / "config.json", {"auths": {"reg.example": {"auth": b64("docker:3")}}})
    assert credentials.lookup("reg.example") == ("host", "1")
    assert credentials.lookup("reg.example", "team/app") == ("team", "2")
    assert credentials.lookup("reg.example", "other/app") == ("host", "1")


def test_creds_and_authfile_options(home, tmp_path):
    write_json(home / "run" / "containers" / "auth.json", {"auths": {"reg.example": {"auth": b64("run:1")}}})
    assert credentials.lookup("reg.example", options=RegistryOptions(creds=("flag", "2"))) == ("flag", "2")
    only = tmp_path / "only.json"
    assert credentials.lookup("reg.example", options=RegistryOptions(authfile=str(only))) is None
    credentials.save("reg.example", "file", "3", RegistryOptions(authfile=str(only)))
    assert credentials.lookup("reg.example", options=RegistryOptions(authfile=str(only))) == ("file", "3")
    assert RegistryOptions.parse_creds("user:pa:ss") == ("user", "pa:ss")
    assert RegistryOptions.parse_creds("user") == ("user", "")


def helper(tmp_path, name: str, script: str):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / f"docker-credential-{name}"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return bin_dir


def test_cred_helpers_and_creds_store(home, tmp_path, monkeypatch):
    log = tmp_path / "asked"
    bin_dir = helper(tmp_path, "one", f'read server; echo "$1 $server" >> {log}\n'
                     'echo "{\\"Username\\": \\"helped\\", \\"Secret\\": \\"s3\\"}"\n')
    helper(tmp_path, "none", 'echo "credentials not found in native keychain"; exit 1\n')
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    write_json(home / "home" / ".docker" / "config.json",
               {"credHelpers": {"reg.example": "one"}, "credsStore": "none"})
    assert credentials.lookup("reg.example") == ("helped", "s3")
    assert log.read_text() == "get reg.example\n"
    assert credentials.lookup("other.example") is None  # the store had nothing


def test_broken_helper_and_file_are_one_line_errors(home, tmp_path, monkeypatch):
    write_json(home / "home" / ".docker" / "config.json", {"credsStore": "absent-helper"})
    with pytest.raises(RegistryError, match="not installed"):
        credentials.lookup("reg.example")
    (home / "run" / "containers").mkdir(parents=True)
    (home / "run" / "containers" / "auth.json").write_text("{nope")
    with pytest.raises(RegistryError, match="not valid JSON"):
        credentials.lookup("reg.example")
