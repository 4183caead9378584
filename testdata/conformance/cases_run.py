"""RUN: shell and exec forms, what a RUN deletes (whiteouts, opaque directories), the modes
and owners it leaves, --mount and --network, the build args it sees; FROM --platform and the
predefined platform ARGs; ONBUILD triggers through a stage."""

from casetable import case

B = "FROM busybox:latest\n"
F = {"a.txt": "a\n", "dir/one": "1\n"}


def run(name: str, body: str, base: str = B, **spec) -> None:
    case("run", name, base + body, F, **spec)


run("exec-form", 'RUN ["/bin/sh", "-c", "echo exec > /e"]\n')
run("deletes-file", "RUN rm /usr/bin/wget\n")
run("deletes-dir", "RUN rm -rf /home\n")
run("recreates-dir", "RUN rm -rf /var && mkdir -p /var/new && echo v > /var/new/f\n")
run("replaces-file-with-dir", "RUN rm /bin/ls && mkdir /bin/ls && touch /bin/ls/inner\n")
run("modes-and-owners", "RUN mkdir -m 0700 /p && touch /p/f && chmod 4755 /p/f && chown 12:34 /p/f\n")
run("symlink-made", "RUN ln -s /etc/passwd /pw && ln -s dangling /dl\n")
run("hardlink-made", "RUN echo h > /h1 && ln /h1 /h2\n")
run("fifo-made", "RUN mkfifo /fifo\n")
run("deletes-copied", "COPY dir /d/\nRUN rm /d/one\n")
run("overwrites-copied", "COPY a.txt /a\nRUN echo new > /a\n")
run("chmod-copied", "COPY a.txt /a\nRUN chmod 600 /a\n")
run("env-from-arg-not-kept", "ARG A=1\nRUN echo $A > /a\n")
run("build-arg-override", "ARG A=1\nRUN echo $A > /a\n", build_args={"A": "2"})
run("workdir-relative-run", "WORKDIR /w\nRUN echo w > here\n")
run("user-run-owner", "USER 1000:1000\nRUN touch /tmp/mine\n")
run("mount-bind", "RUN --mount=type=bind,source=a.txt,target=/m cat /m > /out\n")
run("mount-bind-dir", "RUN --mount=type=bind,source=dir,target=/src cp -r /src /copied\n", difference="compat.md#mount-stubs")
run("mount-bind-from-stage", "RUN --mount=type=bind,from=s,source=/etc,target=/se cp /se/hostname /h 2>/dev/null; ls /se > /listing\n",
    base="FROM busybox:latest AS s\nRUN echo stage > /etc/marker\n" + B, difference="compat.md#mount-stubs")
run("mount-cache-not-kept", "RUN --mount=type=cache,target=/cache echo c > /cache/x && ls /cache > /seen\n", difference="compat.md#mount-stubs")
run("mount-tmpfs-not-kept", "RUN --mount=type=tmpfs,target=/scratch echo t > /scratch/x && echo ok > /ok\n", difference="compat.md#mount-stubs")
run("network-none", "RUN --network=none echo n > /n\n", reference="golden",
    expect={"files": {"/n": {"kind": "file", "content": "n\n", "mode": "0644"}}})
run("from-platform", "ENV A=1\n", base="FROM --platform=linux/amd64 busybox:latest\n")
run("targetarch-arg", "ARG TARGETARCH\nARG TARGETOS\nENV ARCH=$TARGETARCH OS=$TARGETOS\n")
run("buildplatform-arg", "ARG BUILDPLATFORM\nENV BP=$BUILDPLATFORM\n")
run("onbuild-from-stage", "ONBUILD COPY a.txt /triggered\nONBUILD ENV TRIGGERED=1\nFROM parent\nENV CHILD=1\n",
    base="FROM busybox:latest AS parent\n")
run("onbuild-run-from-stage", "ONBUILD RUN echo t > /t\nFROM parent\n", base="FROM busybox:latest AS parent\n")
