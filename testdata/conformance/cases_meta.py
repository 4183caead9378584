"""The config instructions and expansion: ARG/ENV (scoping, defaults, modifiers, --chown with
ARG defaults), WORKDIR, USER, SHELL, VOLUME, ONBUILD, HEALTHCHECK, CMD/ENTRYPOINT, LABEL,
EXPOSE, STOPSIGNAL, MAINTAINER, parser directives; expected failures with their messages."""

from casetable import case

B = "FROM busybox:latest\n"
F = {"a.txt": "a\n", "b.txt": "b\n"}


def meta(category: str, name: str, body: str, base: str = B, **spec) -> None:
    case(category, name, base + body, F, **spec)


# -- ARG / ENV -----------------------------------------------------------------------------
V = "expansion"
meta(V, "env-equals", "ENV A=1 B=two\n")
meta(V, "env-space-form", "ENV A one two three\n")
meta(V, "env-quoted", 'ENV A="with space" B=\'single $X\'\n')
meta(V, "env-escaped-dollar", "ENV A=\\$HOME B=$HOME\n")
meta(V, "env-refers-env", "ENV A=x\nENV B=${A}y C=$A-z\n")
meta(V, "env-same-line-uses-old", "ENV A=old\nENV A=new B=$A\n")
meta(V, "env-default-modifier", "ENV A=${UNSET:-dflt} B=${PATH:+set}\n")
meta(V, "env-empty-modifier", "ENV E=\nENV A=${E:-word} B=${E:+word}\n")
meta(V, "env-path-append", "ENV PATH=/opt/bin:$PATH\n")
meta(V, "env-continuation", "ENV A=1 \\\n    B=2\n")
meta(V, "env-overrides-base", "ENV PATH=/only\n")
meta(V, "arg-default-in-env", "ARG X=def\nENV Y=$X\n")
meta(V, "arg-build-arg-overrides", "ARG X=def\nENV Y=$X\n", build_args={"X": "given"})
meta(V, "arg-no-default-empty", "ARG X\nENV Y=[$X]\n")
meta(V, "arg-env-wins", "ARG X=arg\nENV X=env\nENV Y=$X\n", build_args={"X": "cli"})
meta(V, "arg-global-not-in-stage", "ENV Y=[$G]\n", base="ARG G=global\n" + B)
meta(V, "arg-global-redeclared", "ARG G\nENV Y=[$G]\n", base="ARG G=global\n" + B)
meta(V, "arg-global-in-from", "ENV Y=1\n", base="ARG BASE=busybox:latest\nFROM $BASE\n")
meta(V, "arg-global-build-arg-in-from", "ENV Y=1\n", base="ARG TAG=nope\nFROM busybox:$TAG\n",
     build_args={"TAG": "latest"})
meta(V, "arg-scope-ends-at-stage", "FROM busybox:latest\nENV Y=[$X]\n", base=B + "ARG X=first\n")
meta(V, "arg-in-label", "ARG V=1.2\nLABEL version=$V\n")
meta(V, "arg-in-workdir", "ARG W=/argdir\nWORKDIR $W\n")
meta(V, "arg-in-user", "ARG U=123\nUSER $U\n")
meta(V, "arg-in-expose", "ARG P=8080\nEXPOSE $P\n")
meta(V, "arg-chown-default", "ARG UID=1234\nCOPY --chown=$UID:$UID a.txt /x\n")
meta(V, "arg-chown-overridden", "ARG UID=1234\nCOPY --chown=${UID} a.txt /x\n", build_args={"UID": "55"})
meta(V, "arg-chown-global-redeclared", "ARG UID\nCOPY --chown=$UID a.txt /x\n", base="ARG UID=4321\n" + B)
meta(V, "arg-not-in-config", "ARG SECRETISH=v\nRUN echo $SECRETISH > /out\n")
meta(V, "arg-predefined-proxy", "ARG http_proxy\nENV seen=[$http_proxy]\n", build_args={"http_proxy": "http://p:1"})
meta(V, "arg-unused-build-arg", "ENV A=1\n", build_args={"UNUSED": "x"})
meta(V, "env-in-run", "ENV GREETING=hello\nRUN echo $GREETING > /g\n")
meta(V, "arg-in-run", "ARG A=argval\nRUN echo $A > /a\n")
meta(V, "escape-directive", "ENV A=x`\n  B=y\nCOPY a.txt C:`\n", base="# escape=`\n" + B)
meta(V, "label-multi", 'LABEL a=1 "b c"="d e" f="multi\\\nline"\n')
meta(V, "label-override", "LABEL a=1\nLABEL a=2\n")
meta(V, "expose-forms", "EXPOSE 80 443/tcp 53/udp 8000-8002\n")
meta(V, "maintainer", "MAINTAINER someone <a@b.c>\n")
meta(V, "stopsignal", "STOPSIGNAL SIGKILL\n")
meta(V, "stopsignal-number", "STOPSIGNAL 9\n")

# -- WORKDIR / USER / SHELL ----------------------------------------------------------------
W = "workdir-user-shell"
meta(W, "workdir-absolute", "WORKDIR /w\n")
meta(W, "workdir-relative-chain", "WORKDIR /a\nWORKDIR b\nWORKDIR c\n")
meta(W, "workdir-trailing-slash", "WORKDIR /tmp/\n", difference="compat.md#workdir-cleaned")
meta(W, "workdir-trailing-slash-new", "WORKDIR /newwd/\n", difference="compat.md#workdir-cleaned")
meta(W, "workdir-dotdot", "WORKDIR /a/b/../c\n", difference="compat.md#workdir-cleaned")
meta(W, "workdir-env", "ENV D=/envwd\nWORKDIR $D/sub\n")
meta(W, "workdir-creates-dir", "WORKDIR /made/here\nCOPY a.txt .\n")
meta(W, "workdir-existing", "WORKDIR /etc\n")
meta(W, "workdir-scratch", "COPY a.txt /a\n", base="FROM scratch\n")
meta(W, "workdir-scratch-set", "WORKDIR /app\nCOPY a.txt .\n", base="FROM scratch\n")
meta(W, "workdir-classic", "WORKDIR /c/d/\nCOPY a.txt .\n", reference="classic",
     difference="compat.md#workdir-cleaned")
meta(W, "workdir-user-owner", "USER 1000\nWORKDIR /mine\n")
meta(W, "user-name", "USER nobody\n")
meta(W, "user-uid-gid", "USER 1000:1000\n")
meta(W, "user-name-group", "USER nobody:nogroup\n")
meta(W, "user-unknown-name-config", "USER ghost\n")
meta(W, "user-run", "USER nobody\nRUN id -u > /tmp/uid\n")
meta(W, "shell-json", 'SHELL ["/bin/sh", "-ec"]\nCMD echo hi\n')
meta(W, "shell-used-by-run", 'SHELL ["/bin/sh", "-c"]\nRUN echo $0 > /shell\n')
meta(W, "shell-inherited-stage", 'SHELL ["/bin/ash", "-c"]\nFROM busybox:latest\nCMD x\n')
meta(W, "cmd-shell", "CMD echo hello\n")
meta(W, "cmd-exec", 'CMD ["echo", "hello"]\n')
meta(W, "entrypoint-exec", 'ENTRYPOINT ["/bin/echo"]\nCMD ["x"]\n')
meta(W, "entrypoint-shell", "ENTRYPOINT echo hi\n")
meta(W, "entrypoint-resets-cmd", 'CMD ["a"]\nENTRYPOINT ["b"]\n')
meta(W, "cmd-exec-bad-json-is-shell", "CMD [echo, hi]\n")
meta(W, "cmd-empty-exec", "CMD []\n")
meta(W, "cmd-classic", "CMD echo classic\n", reference="classic", difference="compat.md#argsescaped")
meta(W, "entrypoint-classic", 'ENTRYPOINT ["e"]\nCMD ["c"]\n', reference="classic",
     difference="compat.md#argsescaped")

# -- VOLUME --------------------------------------------------------------------------------
VO = "volume"
meta(VO, "volume-json", 'VOLUME ["/data", "/logs"]\n')
meta(VO, "volume-plain", "VOLUME /data /other\n")
meta(VO, "volume-creates-nothing", "VOLUME /vnew\n")
meta(VO, "volume-then-copy", "VOLUME /vol\nCOPY a.txt /vol/\n")
meta(VO, "volume-run-kept-buildkit", "RUN mkdir /vol && echo before > /vol/f\nVOLUME /vol\nRUN echo after > /vol/f\n")
meta(VO, "volume-run-discarded-classic", "RUN mkdir /vol && echo before > /vol/f\nVOLUME /vol\nRUN echo after > /vol/f && echo out > /outside\n",
     reference="classic", ours_args=["--compat-volumes"])
meta(VO, "volume-new-file-discarded-classic", "VOLUME /vol2\nRUN echo x > /vol2/new && echo y > /kept\n",
     reference="classic", ours_args=["--compat-volumes"])
meta(VO, "volume-classic-copy-kept", "VOLUME /vol3\nCOPY a.txt /vol3/\nRUN true\n",
     reference="classic", ours_args=["--compat-volumes"])
meta(VO, "volume-env", "ENV V=/envvol\nVOLUME $V\n")

# -- ONBUILD / HEALTHCHECK -----------------------------------------------------------------
O = "onbuild-healthcheck"
meta(O, "onbuild-recorded", "ONBUILD COPY a.txt /onb\nONBUILD RUN echo x\n")
meta(O, "onbuild-triggered", "ONBUILD COPY a.txt /triggered\nFROM busybox:latest AS base2\n" +
     "FROM busybox:latest\n", base="FROM busybox:latest AS parent\n")
meta(O, "healthcheck-cmd", "HEALTHCHECK CMD wget -q localhost || exit 1\n")
meta(O, "healthcheck-exec", 'HEALTHCHECK CMD ["/bin/true"]\n')
meta(O, "healthcheck-flags", "HEALTHCHECK --interval=5s --timeout=3s --retries=4 --start-period=10s CMD true\n")
meta(O, "healthcheck-none", "HEALTHCHECK CMD true\nHEALTHCHECK NONE\n")
meta(O, "healthcheck-override", "HEALTHCHECK --interval=1m CMD a\nHEALTHCHECK CMD b\n")
meta(O, "healthcheck-duration-units", "HEALTHCHECK --interval=1m30s --timeout=500ms CMD true\n")

# -- expected failures ---------------------------------------------------------------------
E = "failures"
meta(E, "unknown-instruction", "FOO bar\n", error="(?i)unknown instruction")
meta(E, "no-from", "COPY a.txt /x\n", base="", error="no build stage")
meta(E, "copy-from-unknown-image", "COPY --from=nosuchimage:1 /x /x\n", error="nosuchimage")
meta(E, "unknown-flag", "COPY --bogus=1 a.txt /x\n", error="bogus")
meta(E, "env-no-value", "ENV ONLYNAME\n", error="ENV")
meta(E, "healthcheck-bad-duration", "HEALTHCHECK --interval=abc CMD true\n", error="interval")
meta(E, "healthcheck-negative-retries", "HEALTHCHECK --retries=-1 CMD true\n", error="retries")
meta(E, "run-fails", "RUN exit 3\n", error="3")
meta(E, "expose-bad", "EXPOSE notaport\n", error="notaport")
meta(E, "workdir-empty", "WORKDIR\n", error="WORKDIR")
meta(E, "label-no-value", "LABEL justkey\n", error="LABEL")
meta(E, "target-missing", "ENV A=1\n", target="nostage", error="nostage")
meta(E, "from-empty-arg", "ENV A=1\n", base="ARG IMG\nFROM $IMG\n", error="(?i)from|base|image")
meta(E, "chown-unknown-group", "COPY --chown=0:nosuchgroup a.txt /x\n", error="unable to find group nosuchgroup",
     difference="compat.md#unknown-chown")
meta(E, "copy-missing-dest", "COPY a.txt\n", error="COPY")
meta(E, "stage-name-invalid", "ENV A=1\n", base="FROM busybox:latest AS Bad/Name\n", error="(?i)name")
meta(E, "unterminated-json-treated-shell", 'CMD ["unterminated\n')
meta(E, "arg-bad-name", "ARG =x\n", error="ARG")
meta(E, "chmod-not-octal", "COPY --chmod=999 a.txt /x\n", error="invalid --chmod value '999'",
     difference="compat.md#bad-chmod")
meta(E, "user-empty", "USER\n", error="USER")
