"""`.dockerignore` reading and matching, table-driven against Docker's rules."""

from __future__ import annotations

import pytest

from rootless_build.builder.dockerignore import IgnoreMatcher, find_ignore_file, read_patterns
from rootless_build.builder.patterns import BadPattern

CASES = [
    # (patterns, path, excluded)
    (["foo"], "foo", True),
    (["foo"], "foo/bar", True),  # a directory's pattern covers what is inside
    (["foo"], "foobar", False),
    (["foo"], "a/foo", False),  # anchored at the context root
    (["*.md"], "README.md", True),
    (["*.md"], "docs/a.md", False),  # `*` stays within one component
    (["**/*.md"], "a.md", True),
    (["**/*.md"], "docs/a.md", True),
    (["**/*.md"], "x/y/z.md", True),
    (["a/**/c"], "a/c", True),
    (["a/**/c"], "a/x/y/c", True),
    (["a/*/c"], "a/b/c", True),
    (["a/*/c"], "a/b/d/c", False),
    (["a/*/c"], "a/b/c/d", True),
    (["**"], "anything/at/all", True),
    (["te?t"], "test", True),
    (["te?t"], "tet", False),
    (["te?t"], "te/t", False),
    (["[a-c]x"], "bx", True),
    (["[a-c]x"], "dx", False),
    (["[^a]x"], "bx", True),
    (["[^a]x"], "ax", False),
    (["foo\\*"], "foo*", True),
    (["foo\\*"], "foox", False),
    (["docs", "!docs/readme.md"], "docs/readme.md", False),
    (["docs", "!docs/readme.md"], "docs/other.md", True),
    (["*", "!keep"], "keep", False),
    (["*", "!keep"], "other", True),
    (["!a", "a"], "a", True),  # the last match wins
    (["a", "!a"], "a", False),
    (["!foo"], "foo", False),
    (["*.txt", "!important.txt", "important.txt"], "important.txt", True),
    (["dir/", "x"], "dir/file", True),  # cleaned: `dir/` is `dir`
    ([".git"], ".git/HEAD", True),
    (["a.b"], "axb", False),  # regex characters are literal
    (["(x)"], "(x)", True),
    # Docker's walk: an excluded directory is entered only for an exception whose text
    # starts with the directory's path; nothing beneath a skipped directory comes back
    (["d", "!**/x"], "d/x", True),
    (["d", "!*/x"], "d/x", True),
    (["d", "!d/*/x"], "d/e/x", True),  # `d` is entered, `d/e` is not (`d/*/x/` lacks `d/e/`)
    (["d", "!d/e/x"], "d/e/x", False),
    (["d", "!d/e/x"], "d/e/y", True),
    # a pattern matches a parent cut to its own number of components, as moby's Matches
    (["**/x"], "a/b/x/y", True),  # through the walk: a/b/x itself is excluded and skipped
    (["a/*"], "a/b/c", True),
]


@pytest.mark.parametrize("patterns,path,excluded", CASES,
                         ids=[f"{'|'.join(p)}->{path}" for p, path, _ in CASES])
def test_matching(patterns, path, excluded):
    assert IgnoreMatcher(patterns).excluded(path) is excluded


def test_root_is_never_excluded():
    assert IgnoreMatcher(["*", "**"]).excluded(".") is False


def test_read_patterns_cleans_like_docker():
    text = "\ufeff# a comment\n\n  foo  \n!  bar\n/abs\n./rel/../x\n#not/a/pattern\n  # indented is a pattern\n"
    assert read_patterns(text) == ["foo", "!bar", "abs", "x", "# indented is a pattern"]


def test_bad_pattern_is_a_one_line_error():
    with pytest.raises(BadPattern, match="syntax error"):
        IgnoreMatcher(["[unterminated"])
    with pytest.raises(BadPattern, match="illegal exclusion"):
        IgnoreMatcher(["!"])


def test_exceptions_keep_ignored_directories_walkable():
    m = IgnoreMatcher(["docs", "!docs/keep/*"])
    assert m.may_include_below("docs") and m.walks_into("docs") and m.walks_into("docs/keep")
    assert not IgnoreMatcher(["docs"]).may_include_below("docs")
    # a plain prefix test on the exception's text, wildcards and all
    assert not IgnoreMatcher(["docs", "!**/keep"]).walks_into("docs")
    assert not IgnoreMatcher(["docs", "!d*/keep"]).walks_into("docs")
    assert not IgnoreMatcher(["docs", "!docs/*/x"]).walks_into("docs/sub")


def test_dockerfile_specific_ignore_file_wins(tmp_path):
    (tmp_path / ".dockerignore").write_text("a\n")
    dockerfile = tmp_path / "build" / "app.Dockerfile"
    dockerfile.parent.mkdir()
    dockerfile.write_text("FROM scratch\n")
    assert find_ignore_file(tmp_path, dockerfile) == tmp_path / ".dockerignore"
    beside = tmp_path / "build" / "app.Dockerfile.dockerignore"
    beside.write_text("b\n")
    assert find_ignore_file(tmp_path, dockerfile) == beside
    assert find_ignore_file(tmp_path, None) == tmp_path / ".dockerignore"
