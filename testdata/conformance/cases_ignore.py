""".dockerignore: every rule of the reference (comments, cleaning, `*`, `?`, `[]`, `**`,
exceptions and their order, excluded directories and what may re-include beneath them),
seen through `COPY . /c/` and through COPY of named paths."""

from casetable import case

ALL = "FROM busybox:latest\nCOPY . /c/\n"
TREE = {"a.txt": "a\n", "b.log": "b\n", "d/a.txt": "da\n", "d/x": "dx\n", "d/e/x": "dex\n",
        "d/e/f/y": "defy\n", "x": "x\n", "keep/k.txt": "k\n", "f1.txt": "1\n", "fa.txt": "a\n",
        "f12.txt": "12\n", ".hidden": "h\n", "sp ace.txt": "s\n"}


def ig(name: str, ignore: str, dockerfile: str = ALL, files: dict | None = None, **spec) -> None:
    case("ignore", name, dockerfile, files if files is not None else TREE, ignore, **spec)


ig("file", "a.txt\n")
ig("dir", "d\n")
ig("dir-trailing-slash", "d/\n")
ig("star-ext", "*.txt\n")
ig("star-one-level-only", "*/x\n")
ig("star-two-levels", "*/*/x\n")
ig("doublestar-name", "**/x\n")
ig("doublestar-ext", "**/*.txt\n")
ig("doublestar-under-dir", "d/**\n")
ig("doublestar-middle", "d/**/y\n")
ig("doublestar-alone", "**\n")
ig("doublestar-then-exception", "**\n!d/a.txt\n")
ig("question", "f?.txt\n")
ig("class-range", "f[0-9].txt\n")
ig("class-negated", "f[^0-9].txt\n")
ig("class-caret-literal-escape", "f[\\^a].txt\n")
ig("comment-and-blank", "# a comment\n\n   \nb.log\n#x\n")
ig("surrounding-spaces-trimmed", "   a.txt   \n\tb.log\t\n")
ig("space-inside-name", "sp ace.txt\n")
ig("leading-slash", "/a.txt\n")
ig("dot-slash", "./d/x\n")
ig("dotdot-cleaned", "d/../a.txt\n")
ig("double-slash-cleaned", "d//x\n")
ig("hidden-files", ".*\n")
ig("exception-file", "*.txt\n!a.txt\n")
ig("exception-then-exclude-wins", "!a.txt\n*.txt\n")
ig("exception-in-excluded-dir", "d\n!d/x\n")
ig("exception-deep-in-excluded-dir", "d\n!d/e/f/y\n")
ig("exception-star-in-excluded-dir", "d\n!d/*.txt\n")
ig("exception-doublestar-does-not-reopen-dir", "d\n!**/x\n")
ig("exception-star-slash-does-not-reopen-dir", "d\n!*/x\n")
ig("exception-glob-subdir-prefix", "d\n!d/*/x\n")
ig("exception-reexclude", "d\n!d/e\nd/e/f\n")
ig("exception-only", "!a.txt\n")
ig("exclude-dockerfile", "Dockerfile\n.dockerignore\n")
ig("exclude-everything-but-one", "*\n!keep\n")
ig("exclude-everything-but-nested", "*\n!d/e\n")
ig("copy-named-excluded-file-fails", "a.txt\n", "FROM busybox:latest\nCOPY a.txt /c/\n",
   error="a.txt")
ig("copy-named-excluded-dir-fails", "d\n", "FROM busybox:latest\nCOPY d /c/\n", error="d")
ig("copy-dir-with-excluded-child", "d/e\n", "FROM busybox:latest\nCOPY d /c/\n")
ig("copy-dir-reincluded-child", "d\n!d/e/x\n", "FROM busybox:latest\nCOPY d /c/\n")
ig("copy-glob-skips-excluded", "f1.txt\n", "FROM busybox:latest\nCOPY f*.txt /c/\n")
ig("copy-glob-all-excluded", "f*.txt\n", "FROM busybox:latest\nCOPY f*.txt /c/\n")
ig("add-respects-ignore", "d/e\n", "FROM busybox:latest\nADD d /c/\n")
ig("parent-dir-mode-of-reincluded", "d\n!d/e/f/y\n", ALL, setup={"modes": {"d": "0700", "d/e": "0750"}})
ig("crlf-lines", "a.txt\r\nb.log\r\n")
ig("exception-with-leading-slash", "*.txt\n!/a.txt\n")
ig("pattern-with-trailing-spaces-dir", "keep   \n")

# The classic builder reads the same .dockerignore through its own walk (the client's tar)
for name, ignore in [("classic-dir", "d\n"), ("classic-exception-in-excluded-dir", "d\n!d/x\n"),
                     ("classic-exception-doublestar", "d\n!**/x\n"), ("classic-star-ext", "*.txt\n!a.txt\n"),
                     ("classic-doublestar-name", "**/x\n")]:
    ig(name, ignore, reference="classic")
ig("classic-parent-dir-mode-of-reincluded", "d\n!d/e/f/y\n", ALL, reference="classic",
   setup={"modes": {"d": "0700", "d/e": "0750"}}, difference="compat.md#ignored-parents")
ig("classic-exception-glob-subdir-prefix", "d\n!d/*/x\n", reference="classic", difference="compat.md#ignored-parents")
