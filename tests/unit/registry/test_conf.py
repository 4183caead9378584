"""registries.conf: files and precedence, v2 and v1 formats, prefixes, mirrors, aliases."""

from __future__ import annotations

from pathlib import Path

import pytest

from rootless_build.registry import conf as rc
from rootless_build.registry.conf import RegistriesConfError, RegistryEntry


def env_for(tmp_path: Path, **extra) -> dict:
    return {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "XDG_CACHE_HOME": str(tmp_path / "cache"), **extra}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_env_file_is_the_only_file(tmp_path, monkeypatch):
    monkeypatch.setattr(rc, "SYSTEM_FILE", write(tmp_path / "etc.conf", 'unqualified-search-registries = ["etc"]'))
    write(tmp_path / "config" / "containers" / "registries.conf", 'unqualified-search-registries = ["user"]')
    chosen = write(tmp_path / "chosen.conf", 'unqualified-search-registries = ["chosen.example:5000"]')
    conf = rc.load(env_for(tmp_path, CONTAINERS_REGISTRIES_CONF=str(chosen)))
    assert conf.search == ("chosen.example:5000",)
    assert conf.files == (str(chosen),)


def test_user_file_replaces_the_system_file_and_keeps_its_drop_ins(tmp_path, monkeypatch):
    monkeypatch.setattr(rc, "SYSTEM_FILE", write(tmp_path / "etc.conf", 'unqualified-search-registries = ["etc"]'))
    monkeypatch.setattr(rc, "SYSTEM_DIR", tmp_path / "etc.d")
    write(tmp_path / "etc.d" / "00-system.conf", '[aliases]\n"sys" = "sys.example/sys"\n')
    base = tmp_path / "config" / "containers"
    write(base / "registries.conf", 'unqualified-search-registries = ["user.example"]\n'
          '[[registry]]\nlocation = "a.example"\ninsecure = true\n')
    write(base / "registries.conf.d" / "20-b.conf", '[[registry]]\nlocation = "a.example"\ninsecure = false\n')
    write(base / "registries.conf.d" / "10-a.conf", '[aliases]\n"app" = "a.example/team/app"\n')
    write(base / "registries.conf.d" / "notes.txt", "ignored [")
    conf = rc.load(env_for(tmp_path))
    assert conf.search == ("user.example",)
    assert conf.aliases == {"app": "a.example/team/app"}
    assert [(e.prefix, e.insecure) for e in conf.registries] == [("a.example", False)]  # same prefix: replaced
    assert [Path(f).name for f in conf.files] == ["registries.conf", "10-a.conf", "20-b.conf"]


def test_system_file_then_system_and_user_drop_ins(tmp_path, monkeypatch):
    monkeypatch.setattr(rc, "SYSTEM_FILE", write(tmp_path / "etc.conf", 'unqualified-search-registries = ["etc"]'))
    monkeypatch.setattr(rc, "SYSTEM_DIR", tmp_path / "etc.d")
    write(tmp_path / "etc.d" / "00-system.conf", '[aliases]\n"sys" = "sys.example/sys"\n')
    write(tmp_path / "config" / "containers" / "registries.conf.d" / "50-user.conf",
          'unqualified-search-registries = ["user.example"]\n')
    conf = rc.load(env_for(tmp_path))
    assert conf.search == ("user.example",)
    assert conf.aliases == {"sys": "sys.example/sys"}
    assert [Path(f).name for f in conf.files] == ["etc.conf", "00-system.conf", "50-user.conf"]


def test_missing_files_give_an_empty_configuration(tmp_path, monkeypatch):
    monkeypatch.setattr(rc, "SYSTEM_FILE", tmp_path / "none.conf")
    monkeypatch.setattr(rc, "SYSTEM_DIR", tmp_path / "none.d")
    conf = rc.load(env_for(tmp_path))
    assert conf.search == () and conf.registries == () and conf.files == ()


def test_cached_aliases_win_and_empty_aliases_erase(tmp_path):
    main = write(tmp_path / "r.conf", '[aliases]\n"app" = "a.example/app"\n"gone" = "b.example/gone"\n')
    write(tmp_path / "cache" / "containers" / "short-name-aliases.conf",
          '[aliases]\n"app" = "cached.example/app"\n"gone" = ""\n')
    conf = rc.load(env_for(tmp_path, CONTAINERS_REGISTRIES_CONF=str(main)))
    assert conf.aliases == {"app": "cached.example/app"}


def test_v1_format(tmp_path):
    path = write(tmp_path / "v1.conf", "[registries.search]\nregistries = ['one.example', 'two.example']\n"
                 "[registries.insecure]\nregistries = ['one.example']\n"
                 "[registries.block]\nregistries = ['bad.example']\n")
    conf = rc.load(env_for(tmp_path, CONTAINERS_REGISTRIES_CONF=str(path)))
    assert conf.search == ("one.example", "two.example")
    assert conf.insecure("one.example") and not conf.insecure("two.example")
    assert conf.find("bad.example/x:1").blocked


@pytest.mark.parametrize("text, message", [
    ("unqualified-search-registries = [", "r.conf"),
    ('unqualified-search-registries = ["a/b"]', "not a host"),
    ('[[registry]]\nlocation = "https://x.example"', "scheme"),
    ('[[registry]]\ninsecure = true', "prefix or a location"),
    ('[[registry]]\nprefix = "*.example.com"\nlocation = "x.example"', "wildcard"),
    ('short-name-mode = "sometimes"', "short-name-mode"),
    ('[registries.search]\nregistries = []\n[[registry]]\nlocation = "x"', "mixes"),
    ('[aliases]\n"app" = "noslash"', "fully qualified"),
])
def test_errors_name_the_file(tmp_path, text, message):
    path = write(tmp_path / "r.conf", text)
    with pytest.raises(RegistriesConfError) as info:
        rc.load(env_for(tmp_path, CONTAINERS_REGISTRIES_CONF=str(path)))
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("prefix, ref, matches", [
    ("example.com", "example.com/app:1", True),
    ("example.com", "example.com:5000/app:1", True),   # c/image's documented quirk
    ("example.com", "example.community/app:1", False),
    ("example.com/team", "example.com/team/app:1", True),
    ("example.com/team", "example.com/teams/app:1", False),
    ("example.com/team/app", "example.com/team/app@sha256:" + "0" * 64, True),
    ("*.example.com", "registry.example.com/app:1", True),
    ("*.example.com", "example.com/app:1", False),
])
def test_prefix_matching(prefix, ref, matches):
    entry = RegistryEntry(prefix, "" if prefix.startswith("*") else prefix)
    assert (entry.match_length(ref) >= 0) is matches


def test_longest_prefix_wins(tmp_path):
    path = write(tmp_path / "r.conf", '[[registry]]\nprefix = "docker.io"\nlocation = "mirror.local"\n'
                 '[[registry]]\nprefix = "docker.io/library"\nlocation = "mirror.local/lib"\n')
    conf = rc.load(env_for(tmp_path, CONTAINERS_REGISTRIES_CONF=str(path)))
    entry = conf.find("docker.io/library/busybox:latest")
    assert entry.location == "mirror.local/lib"
    assert entry.rewrite("docker.io/library/busybox:latest") == "mirror.local/lib/busybox:latest"
    assert conf.find("docker.io/someone/app:1").location == "mirror.local"
    assert conf.find("quay.io/x:1") is None


def test_mirrors_and_their_policies(tmp_path):
    path = write(tmp_path / "r.conf", '[[registry]]\nprefix = "example.com"\nmirror-by-digest-only = true\n'
                 '[[registry.mirror]]\nlocation = "m1.local"\n'
                 '[[registry.mirror]]\nlocation = "m2.local"\ninsecure = true\npull-from-mirror = "tag-only"\n')
    entry = rc.load(env_for(tmp_path, CONTAINERS_REGISTRIES_CONF=str(path))).find("example.com/x:1")
    assert entry.location == "" and entry.prefix == "example.com"
    assert [(m.location, m.insecure, m.pull_from_mirror) for m in entry.mirrors] == [
        ("m1.local", False, "digest-only"), ("m2.local", True, "tag-only")]
