"""ADD of a git repository served by a real `git daemon` on loopback: at a tag and a
subdirectory, at the default branch, with --keep-git-dir and --checksum; the cache is
keyed on the commit (a new commit on the branch rebuilds that ADD, the tag's stays cached)."""

from __future__ import annotations

from gitserve import repo_fixture  # noqa: F401  (the `repo` fixture)

FROM = "FROM localhost:5000/busybox:latest\n"


def test_add_git_ref_subdir_keep_and_checksum(rb, busybox, repo, inspect, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(FROM + f"""\
ADD {repo.url}#v1:sub /tagged/
ADD {repo.url} /head/
ADD --keep-git-dir=true {repo.url}#main /kept/
ADD --checksum={repo.first} {repo.url}#v1 /checked/
""")
    done = rb("build", "-t", "git:1", ctx)
    assert done.returncode == 0, done.stderr
    root = inspect.unpack("git:1", tmp_path / "b1")
    assert (root / "tagged" / "b.txt").read_text() == "b1\n"
    assert not (root / "tagged" / "a.txt").exists()
    assert (root / "head" / "a.txt").read_text() == "a1\n" and not (root / "head" / ".git").exists()
    assert (root / "kept" / ".git" / "HEAD").read_text().strip() == repo.first
    assert (root / "checked" / "sub" / "b.txt").read_text() == "b1\n"

    # a new commit on main: the ADDs that follow the branch are rebuilt, the tag's is cached
    second = repo.commit({"a.txt": "a2\n"}, "second")
    again = rb("build", "-t", "git:2", ctx)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("Using cache") == 1
    root = inspect.unpack("git:2", tmp_path / "b2")
    assert (root / "head" / "a.txt").read_text() == "a2\n"
    assert (root / "kept" / ".git" / "HEAD").read_text().strip() == second
    cached = rb("build", "-t", "git:3", ctx)
    assert cached.returncode == 0 and cached.stdout.count("Using cache") == 4, cached.stdout


def test_add_git_errors_are_one_line(rb, busybox, repo, tmp_path):
    for line, message in ((f"ADD --checksum=0000000 {repo.url}#v1 /x/", f"v1 is commit {repo.first}, not 0000000"),
                          (f"ADD {repo.url}#nosuchref /x/", "no ref 'nosuchref'"),
                          (f"ADD {repo.url}#v1:nosuchdir /x/", "no directory 'nosuchdir'"),
                          ("ADD git://127.0.0.1:1/none.git /x/", "git ls-remote git://127.0.0.1:1/none.git")):
        ctx = tmp_path / f"c{abs(hash(line))}"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(FROM + line + "\n")
        done = rb("build", ctx)
        assert done.returncode != 0, line
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith("Error: Dockerfile:2: ") and message in last, (line, done.stderr)
        assert "Traceback" not in done.stderr
