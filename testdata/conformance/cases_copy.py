"""COPY and ADD: sources and globs, --from, destinations (existing dirs, symlinks already in
the image), ownership and modes, local archives."""

from casetable import case

B = "FROM busybox:latest\n"
CTX = {"a.txt": "a\n", "b.txt": "bb\n", "c.md": "c\n", "dir/one": "1\n", "dir/sub/two": "2\n",
       "dir/sub/deep/three": "3\n", "other/x.txt": "ox\n", "other/y.md": "oy\n", "[lit].txt": "l\n",
       "star*name": "s\n"}


def src(name: str, body: str, files: dict | None = None, **spec) -> None:
    case("sources", name, B + body, files if files is not None else CTX, **spec)


src("file-to-file", "COPY a.txt /x\n")
src("file-to-dir-slash", "COPY a.txt /new/\n")
src("file-to-existing-dir", "COPY a.txt /tmp\n")
src("file-rename-nested", "COPY a.txt /p/q/r\n")
src("dir-contents", "COPY dir /d\n")
src("dir-into-existing", "COPY dir /tmp/\n")
src("dir-dot", "COPY dir/. /d/\n")
src("dir-trailing-slash-source", "COPY dir/ /d/\n")
src("context-root", "COPY . /all\n")
src("context-root-dot-slash", "COPY ./ /all/\n")
src("two-files", "COPY a.txt b.txt /m/\n")
src("file-and-dir", "COPY a.txt dir /m/\n")
src("two-dirs-merge", "COPY dir other /m/\n")
src("glob-star", "COPY *.txt /g/\n")
src("glob-question", "COPY ?.txt /g/\n")
src("glob-class", "COPY [ab].txt /g/\n")
src("glob-dir-component", "COPY */x.txt /g/\n")
src("glob-matches-dir", "COPY d* /g/\n")
src("glob-nested-pattern", "COPY dir/*/two /g/\n")
src("glob-doublestar", "COPY **/two /g/\n")
src("glob-doublestar-ext", "COPY **/*.md /g/\n")
src("glob-doublestar-prefix", "COPY dir/** /g/\n")
src("glob-one-matches-other-not", "COPY *.nothing a.txt /g/\n")
src("glob-two-one-empty", "COPY *.txt *.nothing /g/\n")
src("glob-all-empty", "COPY *.nothing /g/\n")
src("glob-escaped-bracket", "COPY \\[lit\\].txt /g/\n")
src("glob-literal-star-name", "COPY star* /g/\n")
src("missing-source-fails", "COPY nope /x\n", error="nope")
src("dotdot-stays-in-context", "COPY ../a.txt /x\n")
src("absolute-source-is-context", "COPY /a.txt /x\n")
src("source-symlink-followed", "COPY link /x\n", setup={"symlinks": {"link": "a.txt"}})
src("symlink-in-dir-kept", "COPY dir /d/\n", setup={"symlinks": {"dir/ln": "one"}})
src("dangling-symlink-in-dir", "COPY dir /d/\n", setup={"symlinks": {"dir/dang": "/nowhere"}})
src("symlink-to-dir-source", "COPY ldir /x/\n", setup={"symlinks": {"ldir": "dir"}})
src("empty-dir", "COPY empty /e\n", setup={"dirs": ["empty"]})
src("empty-dir-nested", "COPY dir /d\n", setup={"dirs": ["dir/hollow"]})
src("hardlinked-files", "COPY dir /d/\n", setup={"hardlinks": {"dir/hl": "dir/one"}})
src("several-to-no-slash", "COPY a.txt b.txt /nodir\n", error="must be a directory",
    difference="compat.md#several-sources")
src("glob-to-no-slash-single", "COPY a.* /single\n")
src("add-plain-file", "ADD a.txt /x\n")
src("add-dir", "ADD dir /d/\n")
src("add-glob", "ADD *.md /g/\n")
src("copy-json-form", 'COPY ["a.txt", "/j/"]\n')
src("copy-json-spaces", 'COPY ["sp ace", "/j/s p"]\n', {**CTX, "sp ace": "x\n"})
src("copy-dest-with-env", "ENV D=/envdest\nCOPY a.txt $D/\n")
src("copy-source-with-arg", "ARG F=a.txt\nCOPY $F /x/\n")
src("copy-link-flag", "COPY --link a.txt /x\n", reference="golden",
    expect={"files": {"/x": {"kind": "file", "content": "a\n", "mode": "0644", "uid": 0}}})
src("relative-dest-workdir", "WORKDIR /w\nCOPY a.txt rel/\n")
src("relative-dest-dot", "WORKDIR /w\nCOPY a.txt .\n")
src("relative-dest-no-workdir", "COPY a.txt rel\n")
src("overwrite-file", "COPY a.txt /x\nCOPY b.txt /x\n")
src("copy-twice-merge", "COPY dir /m/\nCOPY other /m/\n")


def dest(name: str, body: str, **spec) -> None:
    case("destinations", name, B + body, CTX, **spec)


dest("into-symlinked-dir", "RUN mkdir /real && ln -s /real /link\nCOPY a.txt /link/\n")
dest("through-symlink-parent", "RUN mkdir /real && ln -s /real /link\nCOPY a.txt /link/sub/x\n")
dest("dir-through-symlink", "RUN mkdir /real && ln -s /real /link\nCOPY dir /link/d/\n")
dest("relative-symlink-parent", "RUN mkdir -p /r/real && ln -s real /r/link\nCOPY a.txt /r/link/\n")
dest("symlink-to-file-replaced", "RUN ln -s /etc/passwd /pw\nCOPY a.txt /pw\n")
dest("dangling-symlink-dest", "RUN ln -s /nothere /dl\nCOPY a.txt /dl\n")
dest("workdir-symlink", "RUN mkdir /real && ln -s /real /link\nWORKDIR /link\nCOPY a.txt .\n")
dest("existing-dir-keeps-mode", "RUN mkdir -m 0700 /priv\nCOPY a.txt /priv/\n")
dest("existing-dir-keeps-owner", "RUN mkdir /own && chown 5:6 /own\nCOPY a.txt /own/\n")
dest("existing-file-owner-replaced", "RUN touch /f && chown 7:7 /f\nCOPY a.txt /f\n")
dest("bin-symlink-merge", "RUN mkdir -p /usr/real && ln -s usr/real /lib2\nCOPY dir /lib2/\n")
dest("dest-is-root", "COPY dir /\n")
dest("dest-dot-in-root", "COPY a.txt .\n")
dest("dest-trailing-dot", "COPY a.txt /n/.\n")
dest("dest-double-slash", "COPY a.txt //dd//x\n")
dest("dest-dotdot", "COPY a.txt /tmp/../up\n")
dest("dir-onto-existing-file-fails", "RUN touch /isfile\nCOPY dir /isfile/\n", error="")
dest("file-under-file-fails", "RUN touch /isfile\nCOPY a.txt /isfile/x\n", error="")


def own(name: str, body: str, **spec) -> None:
    case("ownership", name, B + body, CTX, **spec)


own("default-root", "COPY dir /d/\n")
own("chown-numeric", "COPY --chown=1000:1000 dir /d/\n")
own("chown-uid-only", "COPY --chown=42 a.txt /x\n")
own("chown-names", "COPY --chown=nobody:nogroup a.txt /x\n")
own("chown-user-name-only", "COPY --chown=nobody a.txt /x\n")
own("chown-mixed", "COPY --chown=nobody:10 a.txt /x\n")
own("chown-created-parents", "COPY --chown=5:5 a.txt /p/q/x\n")
own("chown-dir-parents", "COPY --chown=5:5 dir /newp/d/\n")
own("chown-existing-parent-unchanged", "COPY --chown=5:5 a.txt /tmp/x\n")
own("chown-unknown-user", "COPY --chown=nosuchuser a.txt /x\n", error="unable to find user nosuchuser",
    difference="compat.md#unknown-chown")
own("chown-arg", "ARG U=33\nCOPY --chown=$U:$U a.txt /x\n")
own("chown-arg-default-expansion", "ARG OWN\nCOPY --chown=${OWN:-77}:${OWN:-78} a.txt /x\n")
own("chown-arg-build-arg", "ARG OWN=1\nCOPY --chown=${OWN} a.txt /x\n", build_args={"OWN": "99"})
own("chown-env", "ENV O=8\nCOPY --chown=$O a.txt /x\n")
own("chown-add", "ADD --chown=3:4 dir /d/\n")
own("chmod-file", "COPY --chmod=0600 a.txt /x\n")
own("chmod-dir", "COPY --chmod=700 dir /d/\n")
own("chmod-and-chown", "COPY --chown=1:2 --chmod=640 a.txt /x\n")
own("modes-kept", "COPY dir /d/\n", setup={"modes": {"dir/one": "0604", "dir/sub": "0711", "dir/sub/two": "0755"}})
own("setuid-kept", "COPY a.txt /x\n", setup={"modes": {"a.txt": "4755"}})
own("unreadable-mode-kept", "COPY a.txt /x\n", setup={"modes": {"a.txt": "0400"}})
own("context-dir-mode-kept", "COPY dir /d\n", setup={"modes": {"dir": "0700"}})
own("user-does-not-change-copy", "USER nobody\nCOPY a.txt /x\n")


def arc(name: str, body: str, tars: dict, **spec) -> None:
    setup = spec.pop("setup", {})
    case("archives", name, B + body, {"plain.txt": "p\n"}, setup={**setup, "tars": tars}, **spec)


FILES = {"members": [{"name": "top", "type": "dir"}, {"name": "top/f", "content": "f\n"},
                     {"name": "top/g", "content": "g\n", "mode": "0600", "uid": 7, "gid": 8}]}
arc("tar-unpacked", "ADD a.tar /x/\n", {"a.tar": FILES})
arc("tgz-unpacked", "ADD a.tar.gz /x/\n", {"a.tar.gz": {**FILES, "compression": "gzip"}})
arc("tar-no-ext-unpacked", "ADD blob /x/\n", {"blob": FILES})
arc("tar-copy-not-unpacked", "COPY a.tar /x/\n", {"a.tar": FILES})
arc("tar-into-root", "ADD a.tar /\n", {"a.tar": FILES})
arc("tar-into-existing", "ADD a.tar /tmp\n", {"a.tar": FILES})
arc("tar-no-trailing-slash", "ADD a.tar /newdir\n", {"a.tar": FILES})
arc("tar-chown-ignored-for-members", "ADD --chown=9:9 a.tar /x/\n", {"a.tar": FILES})
arc("tar-implied-parents", "ADD a.tar /x/\n", {"a.tar": {"members": [{"name": "p/q/r", "content": "r\n"}]}})
arc("tar-member-through-symlink", "ADD a.tar /x/\n", {"a.tar": {"members": [
    {"name": "real", "type": "dir"}, {"name": "link", "type": "symlink", "target": "real"},
    {"name": "link/f", "content": "via\n"}]}})
arc("tar-member-through-absolute-symlink", "ADD a.tar /x/\n", {"a.tar": {"members": [
    {"name": "etclink", "type": "symlink", "target": "/tmp"}, {"name": "etclink/f", "content": "abs\n"}]}},
    error="etclink/f: no such file")  # /tmp inside the destination (/x/tmp) does not exist
arc("tar-member-through-absolute-symlink-existing", "ADD a.tar /x/\n", {"a.tar": {"members": [
    {"name": "tmp", "type": "dir"}, {"name": "etclink", "type": "symlink", "target": "/tmp"},
    {"name": "etclink/f", "content": "abs\n"}]}})
arc("tar-through-image-usrmerge-symlink", "RUN mkdir -p /usr/lib2 && ln -s usr/lib2 /lib2\nADD a.tar /\n",
    {"a.tar": {"members": [{"name": "lib2/mod.so", "content": "so\n"}]}})
arc("tar-member-through-dotdot-symlink", "ADD a.tar /x/\n", {"a.tar": {"members": [
    {"name": "up", "type": "symlink", "target": "../.."}, {"name": "up/escaped", "content": "e\n"}]}})
arc("tar-symlink-then-dir", "ADD a.tar /x/\n", {"a.tar": {"members": [
    {"name": "s", "type": "symlink", "target": "d"}, {"name": "d", "type": "dir"},
    {"name": "s/in", "content": "in\n"}]}})
arc("tar-through-image-symlink", "RUN mkdir /real && ln -s /real /link\nADD a.tar /link/\n", {"a.tar": FILES})
arc("tar-hardlink", "ADD a.tar /x/\n", {"a.tar": {"members": [
    {"name": "f", "content": "same\n"}, {"name": "h", "type": "hardlink", "target": "f"}]}})
arc("tar-dotdot-member", "ADD a.tar /x/\n", {"a.tar": {"members": [
    {"name": "../outside", "content": "o\n"}, {"name": "in", "content": "i\n"}]}})
arc("tar-absolute-member", "ADD a.tar /x/\n", {"a.tar": {"members": [{"name": "/abs", "content": "a\n"}]}})
arc("tar-overwrites-image-file", "ADD a.tar /etc/\n", {"a.tar": {"members": [{"name": "motd", "content": "m\n"}]}})
arc("tar-dir-mode", "ADD a.tar /x/\n", {"a.tar": {"members": [
    {"name": "d", "type": "dir", "mode": "0700"}, {"name": "d/f", "content": "f\n", "mode": "0640"}]}})
arc("tar-two-archives", "ADD a.tar b.tar /x/\n", {"a.tar": FILES, "b.tar": {"members": [{"name": "b", "content": "b\n"}]}})
arc("tar-and-file", "ADD a.tar plain.txt /x/\n", {"a.tar": FILES})
arc("tar-glob", "ADD *.tar /x/\n", {"a.tar": FILES})
arc("tar-whiteout-member", "ADD a.tar /x/\n", {"a.tar": {"members": [
    {"name": "keep", "content": "k\n"}, {"name": ".wh.gone", "content": ""}]}})
arc("not-a-tar-copied", "ADD plain.txt /x/\n", {})
arc("tar-in-dir-not-unpacked", "ADD sub /x/\n", {"sub/a.tar": FILES})

# The same operations through the classic builder
src("classic-glob-star", "COPY *.txt /g/\n", reference="classic")
src("classic-dir-contents", "COPY dir /d\n", reference="classic")
src("classic-symlink-in-dir-kept", "COPY dir /d/\n", reference="classic", setup={"symlinks": {"dir/ln": "one"}})
src("classic-glob-one-matches-other-not", "COPY *.nothing a.txt /g/\n", reference="classic")
dest("classic-into-symlinked-dir", "RUN mkdir /real && ln -s /real /link\nCOPY a.txt /link/\n", reference="classic")
own("classic-chown-names", "COPY --chown=nobody:nogroup a.txt /x\n", reference="classic")
own("classic-chown-created-parents", "COPY --chown=5:5 a.txt /p/q/x\n", reference="classic")
arc("classic-tar-unpacked", "ADD a.tar /x/\n", {"a.tar": FILES}, reference="classic")
arc("classic-tar-member-through-symlink", "ADD a.tar /x/\n", {"a.tar": {"members": [
    {"name": "real", "type": "dir"}, {"name": "link", "type": "symlink", "target": "real"},
    {"name": "link/f", "content": "via\n"}]}}, reference="classic")
arc("classic-tar-implied-parents", "ADD a.tar /x/\n", {"a.tar": {"members": [{"name": "p/q/r", "content": "r\n"}]}},
    reference="classic")


def url(name: str, body: str, **spec) -> None:
    http = {"f.txt": "remote\n", "g.txt": "gee\n", "sub/h.txt": "aitch\n"}
    case("remote", name, B + "ARG HTTP\n" + body, {"plain.txt": "p\n"}, http=http, **spec)


url("add-url-file", "ADD $HTTP/f.txt /r\n")
url("add-url-into-dir", "ADD $HTTP/f.txt /dl/\n")
url("add-url-nested-path", "ADD $HTTP/sub/h.txt /dl/\n")
url("add-url-two", "ADD $HTTP/f.txt $HTTP/g.txt /dl/\n")
url("add-url-and-local", "ADD $HTTP/f.txt plain.txt /dl/\n")
url("add-url-chown", "ADD --chown=5:6 $HTTP/f.txt /r\n")
url("add-url-chmod", "ADD --chmod=644 $HTTP/f.txt /r\n", difference="compat.md#add-url-chmod")
url("add-url-query", "ADD $HTTP/f.txt?v=1 /dl/\n")
url("add-url-into-existing-dir", "ADD $HTTP/g.txt /tmp\n")
url("add-url-missing-fails", "ADD $HTTP/nope.txt /r\n", error="404|[Nn]ot [Ff]ound")
url("add-url-classic", "ADD $HTTP/f.txt /r\n", reference="classic")
url("copy-url-fails", "COPY $HTTP/f.txt /r\n", error="")
