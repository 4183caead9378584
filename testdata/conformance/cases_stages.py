"""Multi-stage builds and COPY --from: stages by name and index, images, globs over files
a RUN made, owners kept, --target, ARG across stages."""

from casetable import case

F = {"a.txt": "a\n", "dir/one": "1\n", "dir/sub/two": "2\n"}
S = "FROM busybox:latest AS s\n"
RUNFILES = S + "RUN mkdir -p /out/sub && echo 1 > /out/f1.txt && echo 2 > /out/f2.txt && echo 3 > /out/sub/g.txt && chown 12:34 /out/f2.txt && chmod 600 /out/f1.txt\n"


def st(name: str, dockerfile: str, **spec) -> None:
    case("stages", name, dockerfile, F, **spec)


st("from-stage-file", S + "COPY a.txt /a\nFROM busybox:latest\nCOPY --from=s /a /b\n")
st("from-stage-index", S + "COPY a.txt /a\nFROM busybox:latest\nCOPY --from=0 /a /b\n")
st("from-stage-dir", S + "COPY dir /d\nFROM busybox:latest\nCOPY --from=s /d /e/\n")
st("from-image", "FROM busybox:latest\nCOPY --from=busybox:latest /bin/busybox /bb\n")
st("from-stage-keeps-owner", RUNFILES + "FROM busybox:latest\nCOPY --from=s /out /o/\n")
st("from-stage-chown", RUNFILES + "FROM busybox:latest\nCOPY --from=s --chown=3:3 /out /o/\n")
st("from-glob-absolute", RUNFILES + "FROM busybox:latest\nCOPY --from=s /out/*.txt /o/\n")
st("from-glob-relative", RUNFILES + "FROM busybox:latest\nCOPY --from=s out/*.txt /o/\n")
st("from-glob-workdir-relative", S + "WORKDIR /out\nRUN echo 1 > f1.txt\nFROM busybox:latest\nCOPY --from=s out/f*.txt /o/\n")
st("from-glob-nested", RUNFILES + "FROM busybox:latest\nCOPY --from=s /out/*/g.txt /o/\n")
st("from-glob-doublestar", RUNFILES + "FROM busybox:latest\nCOPY --from=s /out/**/*.txt /o/\n")
st("from-glob-one-empty", RUNFILES + "FROM busybox:latest\nCOPY --from=s /out/*.none /out/f1.txt /o/\n")
st("from-glob-none", RUNFILES + "FROM busybox:latest\nCOPY --from=s /out/*.none /o/\n")
st("from-symlink-source-followed", S + "RUN ln -s /etc/hostname /hn && ln -s busybox /bin/bblink\nFROM busybox:latest\nCOPY --from=s /bin/bblink /x\n")
st("from-symlink-in-dir-kept", S + "RUN mkdir /l && ln -s ../etc /l/e\nFROM busybox:latest\nCOPY --from=s /l /l2/\n")
st("from-root-dir", "FROM scratch AS s\nCOPY a.txt /a\nCOPY dir /dir\nFROM busybox:latest\nCOPY --from=s / /fromroot/\n")
st("from-stage-deleted-file", S + "COPY dir /d\nRUN rm /d/one\nFROM busybox:latest\nCOPY --from=s /d /e/\n")
st("from-missing-path-fails", S + "FROM busybox:latest\nCOPY --from=s /nope /x\n", error="nope")
st("from-later-stage-fails", "FROM busybox:latest AS first\nCOPY --from=later /a /a\nFROM busybox:latest AS later\n"
   "COPY a.txt /a\n", target="first", error="later")  # a later stage's name is an image reference
st("from-stage-on-stage", S + "COPY a.txt /base-a\nFROM s AS t\nCOPY dir /t-dir\nFROM t\nENV Z=1\n")
st("stage-inherits-config", S + "ENV SE=1\nWORKDIR /sw\nUSER 5\nFROM s\nENV OTHER=2\n")
st("target-first", S + "ENV FIRST=1\nFROM busybox:latest\nENV SECOND=1\n", target="s")
st("target-middle", S + "ENV A=1\nFROM s AS m\nENV B=1\nFROM m\nENV C=1\n", target="m")
st("arg-per-stage", "ARG V=g\n" + S + "ARG V\nENV IN_S=$V\nFROM busybox:latest\nARG V=local\nENV IN_T=$V\n")
st("arg-build-arg-both-stages", S + "ARG V=1\nENV A=$V\nFROM s\nARG V=2\nENV B=$V\n", build_args={"V": "cli"})
st("from-stage-name-case", "FROM busybox:latest AS Builder\nCOPY a.txt /a\nFROM busybox:latest\nCOPY --from=builder /a /b\n")
st("unused-stage-ignored", "FROM busybox:latest AS unused\nCOPY nope /x\nFROM busybox:latest\nCOPY a.txt /a\n")
st("scratch-final", S + "COPY a.txt /a\nFROM scratch\nCOPY --from=s /a /a\n")
st("scratch-config", "FROM scratch\nENV A=1\nCMD [\"/x\"]\nCOPY a.txt /\n")
st("from-stage-dest-dir", RUNFILES + "FROM busybox:latest\nCOPY --from=s /out/f1.txt /out/f2.txt /o/\n")
st("from-stage-file-into-existing", RUNFILES + "FROM busybox:latest\nCOPY --from=s /out/f1.txt /tmp\n")
st("from-stage-whiteout-dir", S + "RUN mkdir -p /w/a && touch /w/a/x /w/b\nFROM s AS t\nRUN rm -rf /w/a\nFROM busybox:latest\nCOPY --from=t /w /w/\n")
st("from-image-dir", "FROM busybox:latest\nCOPY --from=busybox:latest /etc /etc2/\n")
