"""ps --filter, images --filter, image prune --filter and --format templates (issue 17),
with docker's keys and semantics: values of one key OR, different keys AND, labels AND;
unknown keys refused with docker's message."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.rootless


def ok(proc):
    assert proc.returncode == 0, proc.stderr
    return proc


def names(rb, *filters: str, all_: bool = False) -> list[str]:
    args = ["ps", "--format", "{{.Names}}", *(["-a"] if all_ else [])]
    for f in filters:
        args += ["--filter", f]
    return ok(rb(*args)).stdout.split()


@pytest.fixture
def fleet(rb, busybox):
    """web1 running (tier=web), web2 exited 3 (tier=web, env=prod), db created (tier=db)."""
    ok(rb("run", "-d", "--name", "web1", "-l", "tier=web", busybox, "sleep", "300"))
    exited = rb("run", "--name", "web2", "-l", "tier=web", "-l", "env=prod", busybox, "sh", "-c", "exit 3")
    assert exited.returncode == 3
    ok(rb("create", "--name", "db", "-l", "tier=db", busybox, "true"))
    return busybox


def test_ps_filters(rb, fleet, tmp_path) -> None:
    assert names(rb) == ["web1"]
    assert names(rb, "status=exited") == ["web2"]                     # a status shows stopped ones too
    assert names(rb, "status=created") == ["db"]
    assert sorted(names(rb, "status=created", "status=running")) == ["db", "web1"]       # same key: OR
    assert names(rb, "exited=3") == ["web2"] and names(rb, "exited=0") == []
    assert sorted(names(rb, "name=web", all_=True)) == ["web1", "web2"]                  # a regexp
    assert names(rb, "name=^/db$", all_=True) == ["db"]
    assert sorted(names(rb, "label=tier=web", all_=True)) == ["web1", "web2"]
    assert names(rb, "label=tier=web", "label=env", all_=True) == ["web2"]                # labels: AND
    assert names(rb, "label=tier=web", "status=running") == ["web1"]                      # keys: AND
    web1 = ok(rb("inspect", "-f", "{{.Id}}", "web1")).stdout.strip()
    assert names(rb, f"id={web1[:8]}", all_=True) == ["web1"]
    assert sorted(names(rb, "before=db", all_=True)) == ["web1", "web2"]
    assert names(rb, "since=web2", all_=True) == ["db"]
    assert sorted(names(rb, f"ancestor={fleet}", all_=True)) == ["db", "web1", "web2"]
    assert names(rb, "ancestor=nosuch:image", all_=True) == []
    # an image built on busybox counts its containers as busybox's descendants
    ok(rb("commit", "web1", "derived:1"))
    ok(rb("create", "--name", "child", "derived:1", "true"))
    assert "child" in names(rb, f"ancestor={fleet}", all_=True)
    assert names(rb, "ancestor=derived:1", all_=True) == ["child"]


@pytest.mark.parametrize("args, message", [
    (["--filter", "bogus=1"], "Invalid filter 'bogus'"),
    (["--filter", "status=sleeping"], "Invalid filter 'status=sleeping'"),
    (["--filter", "exited=x"], "Invalid filter 'exited=x'"),
    (["--filter", "novalue"], "bad format of filter (expected name=value)"),
])
def test_ps_refuses_bad_filters(rb, busybox, args, message) -> None:
    done = rb("ps", *args)
    assert done.returncode == 125 and done.stderr == f"Error: {message}\n"


def test_ps_format_table_and_functions(rb, fleet) -> None:
    table = ok(rb("ps", "-a", "--format", "table {{.Names}}\t{{upper .State}}\t{{.Labels}}")).stdout.splitlines()
    assert table[0].split() == ["NAMES", "STATE", "LABELS"]
    assert table[1].split() == ["db", "CREATED", "tier=db"]
    assert table[0].index("STATE") == table[1].index("CREATED") == 10       # docker's minimum width
    assert ok(rb("ps", "-a", "--format", "{{json .Names}}", "--filter", "name=db")).stdout == '"db"\n'
    listed = ok(rb("ps", "-a", "--format", "{{.Names}}: {{range split .Labels \",\"}}[{{.}}]{{end}}",
                   "--filter", "name=web2")).stdout
    assert listed == "web2: [env=prod][tier=web]\n"
    assert ok(rb("ps", "-n", "1", "--format", "{{.Names}}")).stdout == "db\n"


def test_images_filters_and_table(rb, busybox, tmp_path) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {busybox}\nLABEL app=one\n")
    ok(rb("build", "-q", "-t", "one:1", tmp_path))
    (tmp_path / "Dockerfile").write_text(f"FROM {busybox}\nLABEL app=two version=2\n")
    ok(rb("build", "-q", "-t", "two:2", "-t", "two:latest", tmp_path))
    (tmp_path / "Dockerfile").write_text(f"FROM {busybox}\nLABEL app=three\n")
    ok(rb("build", "-q", "-t", "three:1", tmp_path))
    ok(rb("build", "-q", "-t", "three:1", "--label", "again=1", tmp_path))     # the old three is dangling now

    def repos(*filters: str) -> list[str]:
        args = ["images", "--format", "{{.Repository}}:{{.Tag}}"]
        for f in filters:
            args += ["--filter", f]
        return ok(rb(*args)).stdout.split()

    assert repos("label=app=one") == ["one:1"]
    assert sorted(repos("label=app")) == ["<none>:<none>", "one:1", "three:1", "two:2", "two:latest"]
    assert sorted(repos("label=app", "label=version=2")) == ["two:2", "two:latest"]
    assert repos("dangling=true") == ["<none>:<none>"]
    assert "<none>:<none>" not in repos("dangling=false")
    assert sorted(repos("reference=two")) == ["two:2", "two:latest"]
    assert sorted(repos("reference=t*:1")) == ["three:1"]
    assert sorted(repos("reference=one", "reference=two:2")) == ["one:1", "two:2"]    # same key: OR
    assert "one:1" not in repos("since=one:1") and "two:2" in repos("since=one:1")
    assert repos("before=two:2", "reference=one") == ["one:1"]
    bad = rb("images", "--filter", "status=1")
    assert bad.returncode == 125 and bad.stderr == "Error: Invalid filter 'status'\n"
    bad = rb("images", "--filter", "dangling=maybe")
    assert bad.returncode == 125 and "Invalid filter 'dangling=maybe'" in bad.stderr
    table = ok(rb("images", "--format", "table {{.Repository}}\t{{.Tag}}\t{{.ID}}", "one")).stdout.splitlines()
    assert table[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID"] and table[1].split()[:2] == ["one", "1"]
    hist = ok(rb("history", "--format", "table {{.CreatedBy}}\t{{.Size}}", "one:1")).stdout.splitlines()
    assert hist[0].split() == ["CREATED", "BY", "SIZE"] and "LABEL app=one" in hist[1]


def test_prune_filters(rb, busybox, tmp_path) -> None:
    for n in range(2):
        (tmp_path / "Dockerfile").write_text(f"FROM {busybox}\nLABEL keep={'yes' if n else 'no'} n={n}\n")
        ok(rb("build", "-q", "-t", f"img{n}:1", tmp_path))
        ok(rb("build", "-q", "-t", f"img{n}:1", "--label", "rebuilt=1", tmp_path))   # leaves one dangling
    dangling = ok(rb("images", "-q", "--filter", "dangling=true")).stdout.split()
    assert len(dangling) == 2
    pruned = ok(rb("prune", "-f", "--filter", "label=keep=no"))
    assert pruned.stdout.startswith("Deleted Images:")
    assert len(ok(rb("images", "-q", "--filter", "dangling=true")).stdout.split()) == 1
    ok(rb("prune", "-f", "--filter", "label!=keep=yes"))               # the one left has keep=yes
    assert len(ok(rb("images", "-q", "--filter", "dangling=true")).stdout.split()) == 1
    ok(rb("prune", "-f", "--filter", "until=2000-01-01T00:00:00Z"))      # nothing that old
    assert len(ok(rb("images", "-q", "--filter", "dangling=true")).stdout.split()) == 1
    ok(rb("prune", "-f", "--filter", "until=0s"))
    assert ok(rb("images", "-q", "--filter", "dangling=true")).stdout == ""
    # -a / dangling=false with a label: tagged images too, only those labelled
    ok(rb("prune", "-af", "--filter", "label=keep=no"))
    left = ok(rb("images", "--format", "{{.Repository}}")).stdout.split()
    assert "img0" not in left and "img1" in left
    bad = rb("prune", "-f", "--filter", "reference=x")
    assert bad.returncode == 125 and "Invalid filter 'reference'" in bad.stderr
    bad = rb("prune", "-f", "--filter", "until=yesterday")
    assert bad.returncode == 125 and "until=yesterday" in bad.stderr


def test_inspect_templates_index_and_range(rb, busybox) -> None:
    doc = json.loads(ok(rb("inspect", busybox)).stdout)[0]
    out = ok(rb("inspect", "-f", "{{index .RepoTags 0}} {{range .RootFS.Layers}}{{.}} {{end}}{{len .RootFS.Layers}}",
                busybox)).stdout
    assert out == f"{doc['RepoTags'][0]} {' '.join(doc['RootFS']['Layers'])} {len(doc['RootFS']['Layers'])}\n"
