"""Syntax Docker 20.10 cannot build (heredocs, --parents, --exclude, newer expansion forms)
and the reproducibility flags: checked against expectations written from the current
Dockerfile reference and buildah's documentation."""

from casetable import case

B = "FROM busybox:latest\n"
F = {"a.txt": "a\n", "b.md": "b\n", "x/y/z.txt": "z\n", "x/y/w.md": "w\n", "dir/one": "1\n",
     "dir/sub/two.md": "2\n"}
EPOCH = 1_000_000_000
EPOCH_TEXT = "2001-09-09T01:46:40Z"


def gold(category: str, name: str, body: str, expect: dict, **spec) -> None:
    case(category, name, B + body, F, reference="golden", expect=expect, **spec)


def file(content: str, mode: str = "0644", uid: int = 0, **more) -> dict:
    return {"kind": "file", "content": content, "mode": mode, "uid": uid, **more}


# -- heredocs (Dockerfile 1.4) ---------------------------------------------------------------
H = "heredocs"
gold(H, "copy-heredoc", "COPY <<EOF /h\nhello\nEOF\n", {"files": {"/h": file("hello\n")}})
gold(H, "copy-two-heredocs", "COPY <<one <<two /hd/\nfirst\none\nsecond\ntwo\n",
     {"files": {"/hd/one": file("first\n"), "/hd/two": file("second\n")}})
gold(H, "copy-heredoc-expands", "ENV FOO=bar\nCOPY <<EOF /e\n$FOO\nEOF\n", {"files": {"/e": file("bar\n")}})
gold(H, "copy-heredoc-quoted-literal", "ENV FOO=bar\nCOPY <<\"EOF\" /e\n$FOO\nEOF\n",
     {"files": {"/e": file("$FOO\n")}})
gold(H, "copy-heredoc-chmod", "COPY --chmod=755 <<EOF /s.sh\n#!/bin/sh\nEOF\n",
     {"files": {"/s.sh": file("#!/bin/sh\n", "0755")}})
gold(H, "copy-heredoc-chown", "COPY --chown=5:6 <<EOF /o\nx\nEOF\n", {"files": {"/o": file("x\n", uid=5, gid=6)}})
gold(H, "run-heredoc", "RUN <<EOF\necho hi > /r\nEOF\n", {"files": {"/r": file("hi\n")}})
gold(H, "run-heredoc-two-lines", "RUN <<EOF\necho 1 > /l\necho 2 >> /l\nEOF\n", {"files": {"/l": file("1\n2\n")}})
gold(H, "run-heredoc-shebang", "RUN <<EOF\n#!/bin/sh\necho sb > /sb\nEOF\n", {"files": {"/sb": file("sb\n")}})
gold(H, "run-heredoc-dash-strips-tabs", "RUN <<-EOF\n\techo t > /t\n\tEOF\n", {"files": {"/t": file("t\n")}})
gold(H, "copy-heredoc-and-file", "COPY a.txt <<EOF /m/\nh\nEOF\n",
     {"files": {"/m/a.txt": file("a\n"), "/m/EOF": file("h\n")}})

# -- COPY --parents and --exclude (Dockerfile 1.7) --------------------------------------------
P = "parents-exclude"
gold(P, "parents-file", "COPY --parents x/y/z.txt /d/\n", {"files": {"/d/x/y/z.txt": file("z\n")}})
gold(P, "parents-glob", "COPY --parents x/*/*.md /d/\n", {"files": {"/d/x/y/w.md": file("w\n")},
                                                         "absent": ["/d/x/y/z.txt", "/d/w.md"]})
gold(P, "parents-pivot", "COPY --parents ./x/./y/z.txt /d/\n", {"files": {"/d/y/z.txt": file("z\n")},
                                                              "absent": ["/d/x"]})
gold(P, "parents-dir", "COPY --parents dir /d/\n", {"files": {"/d/dir/one": file("1\n"),
                                                            "/d/dir/sub/two.md": file("2\n")}})
gold(P, "exclude-ext", "COPY --exclude=*.md . /e/\n", {"files": {"/e/a.txt": file("a\n"), "/e/x/y/z.txt": file("z\n")},
                                                       "absent": ["/e/b.md"]})
gold(P, "exclude-doublestar", "COPY --exclude=**/*.md . /e/\n", {"files": {"/e/a.txt": file("a\n")},
                                                                 "absent": ["/e/b.md", "/e/x/y/w.md", "/e/dir/sub/two.md"]})
gold(P, "exclude-dir", "COPY --exclude=sub dir /e/\n", {"files": {"/e/one": file("1\n")}, "absent": ["/e/sub"]})
gold(P, "exclude-two", "COPY --exclude=*.md --exclude=x . /e/\n", {"files": {"/e/a.txt": file("a\n")},
                                                                   "absent": ["/e/b.md", "/e/x"]})
gold(P, "exclude-with-glob-source", "COPY --exclude=b.* *.* /e/\n", {"files": {"/e/a.txt": file("a\n")},
                                                                     "absent": ["/e/b.md"]})
gold(P, "chmod-symbolic", "COPY --chmod=u=rwx,go=rx a.txt /s\n", {"files": {"/s": file("a\n", "0755")}})
gold(P, "link-dir", "COPY --link dir /l/\n", {"files": {"/l/one": file("1\n")}})

# -- newer expansion forms -------------------------------------------------------------------
X = "expansion-newer"
gold(X, "trim-prefix", "ENV A=/usr/local/bin\nENV B=${A#/usr}\n", {"config": {"Env": [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "A=/usr/local/bin", "B=/local/bin"]}})
gold(X, "trim-longest-prefix", "ENV A=/usr/local/bin\nENV B=${A##*/}\n", {"config": {"Env": [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "A=/usr/local/bin", "B=bin"]}})
gold(X, "trim-suffix", "ENV A=/usr/local/bin\nENV B=${A%/*}\n", {"config": {"Env": [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "A=/usr/local/bin", "B=/usr/local"]}})
gold(X, "trim-longest-suffix", "ENV A=/usr/local/bin\nENV B=${A%%/l*}\n", {"config": {"Env": [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "A=/usr/local/bin", "B=/usr"]}})
gold(X, "dash-without-colon", "ENV E=\nENV A=${E-word} B=${UNSET-word}\n", {"config": {"Env": [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "E=", "A=", "B=word"]}})
gold(X, "workdir-cleaned", "WORKDIR /tmp/\n", {"config": {"WorkingDir": "/tmp"}})
gold(X, "workdir-dotdot-cleaned", "WORKDIR /a/b/../c/\n", {"config": {"WorkingDir": "/a/c"},
                                                          "files": {"/a/c": {"kind": "dir", "mode": "0755"}}})

# -- reproducibility -------------------------------------------------------------------------
R = "reproducibility"
SDE = {"SOURCE_DATE_EPOCH": str(EPOCH)}
gold(R, "build-arg-sets-created", "COPY a.txt /a\n", {"image": {"created": EPOCH_TEXT},
                                                      "files": {"/a": file("a\n", mtime=1_600_000_000)}},
     build_args=SDE)
gold(R, "build-arg-seen-when-declared", "ARG SOURCE_DATE_EPOCH\nENV S=$SOURCE_DATE_EPOCH\n",
     {"image": {"created": EPOCH_TEXT}, "config": {"Env": [
         "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", f"S={EPOCH}"]}}, build_args=SDE)
gold(R, "flag-source-date-epoch", "COPY a.txt /a\n", {"image": {"created": EPOCH_TEXT},
                                                      "files": {"/a": file("a\n", mtime=1_600_000_000)}},
     ours_args=["--source-date-epoch", str(EPOCH)])
gold(R, "flag-source-date-epoch-arg", "ARG SOURCE_DATE_EPOCH\nENV S=$SOURCE_DATE_EPOCH\n",
     {"config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", f"S={EPOCH}"]}},
     ours_args=["--source-date-epoch", str(EPOCH)])
gold(R, "rewrite-timestamp-clamps", "COPY a.txt /a\nRUN echo r > /r\n",
     {"image": {"created": EPOCH_TEXT}, "files": {"/a": file("a\n", mtime=EPOCH), "/r": file("r\n", mtime=EPOCH)}},
     ours_args=["--source-date-epoch", str(EPOCH), "--rewrite-timestamp"])
gold(R, "timestamp-sets-created-and-clamps", "COPY a.txt /a\nWORKDIR /wd\n",
     {"image": {"created": EPOCH_TEXT}, "files": {"/a": file("a\n", mtime=EPOCH), "/wd": {"kind": "dir", "mtime": EPOCH}}},
     ours_args=["--timestamp", str(EPOCH)])
gold(R, "build-arg-not-clamping-run", "RUN echo r > /r\n", {"image": {"created": EPOCH_TEXT}}, build_args=SDE)
