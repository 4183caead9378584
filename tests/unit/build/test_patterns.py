"""COPY source globs (Go's filepath.Match, where `**` is two `*`, as BuildKit resolves
source wildcards) and path cleaning."""

from __future__ import annotations

import pytest

from rootless_build.builder.patterns import BadPattern, Glob, go_clean, has_wildcards, split_wildcards, unescape

GLOBS = [
    ("*.txt", "a.txt", True),
    ("*.txt", "d/a.txt", False),
    ("**/*.txt", "a.txt", False),
    ("**/*.txt", "d/a.txt", True),
    ("**/*.txt", "d/e/a.txt", False),
    ("**/*/*.txt", "d/e/a.txt", True),
    ("**/*.txt", "d/a.md", False),
    ("d/**", "d/x", True),
    ("d/**", "d/x/y", False),
    ("d/**", "e/x", False),
    ("?.go", "a.go", True),
    ("?.go", "ab.go", False),
    ("[ab]*", "apple", True),
    ("[ab]*", "cat", False),
    ("[^a]b", "cb", True),
    ("[^a]b", "ab", False),
    ("[^a]b", "/b", False),  # a class never matches the separator
    ("[a-c]", "b", True),
    ("[a-c]", "d", False),
    ("\\*", "*", True),
    ("\\*", "x", False),
    ("a.b", "a.b", True),
    ("a.b", "axb", False),
    ("*", ".hidden", True),  # Go's Match has no dot-file rule
]


@pytest.mark.parametrize("pattern,path,expected", GLOBS, ids=[f"{p}->{path}" for p, path, _ in GLOBS])
def test_glob(pattern, path, expected):
    assert Glob(pattern).match(path) is expected


@pytest.mark.parametrize("pattern", ["[", "[a-", "a[", "[b-a]"])
def test_bad_glob(pattern):
    with pytest.raises(BadPattern):
        Glob(pattern)


@pytest.mark.parametrize("path,clean", [
    ("", "."), (".", "."), ("a/./b", "a/b"), ("a//b/", "a/b"), ("a/../../b", "../b"),
    ("/../x", "/x"), ("//a", "/a"), ("/", "/"), ("./a", "a"),
])
def test_go_clean(path, clean):
    assert go_clean(path) == clean


def test_split_and_escape():
    assert split_wildcards("a/b/*.go/c") == ("a/b", "*.go/c")
    assert split_wildcards("plain/path") == ("plain/path", "")
    assert split_wildcards("**/x") == ("", "**/x")
    assert has_wildcards("a[1]") and not has_wildcards("a\\[1]")
    assert unescape("a\\*b") == "a*b"
