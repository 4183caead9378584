"""COPY/ADD and metadata in a multi-stage build, checked with skopeo, tar, umoci, podman."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest
from buildcheck import history_matches_layers

pytestmark = pytest.mark.rootless

DOCKERFILE = """\
ARG REGISTRY=localhost:5000
FROM ${REGISTRY}/busybox:latest AS build
ARG GREETING=hello
COPY passwd group /etc/
COPY --chown=app:app app /opt/app/
COPY --chmod=0640 docs/**/*.md /docs/
COPY secret/ /secret/
COPY <<EOF /etc/greeting.txt
${GREETING} from a heredoc
EOF
ADD data.tar.gz /data/
WORKDIR /opt/app
COPY app/main.sh ./bin/

FROM scratch AS unused
COPY nothing-here /x

FROM ${REGISTRY}/busybox:latest
COPY --from=build /opt/app /opt/app
COPY --from=0 /etc/greeting.txt /etc/passwd /etc/group /etc/
COPY --from=localhost:5000/busybox:latest /bin/busybox /bin/busybox-copy
LABEL org.example.stage=final
USER app
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /etc/greeting.txt"]
"""


def make_context(root: Path) -> Path:
    files = {
        "passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/opt/app:/bin/sh\n",
        "group": "root:x:0:\napp:x:1000:\n",
        "app/main.sh": "#!/bin/sh\necho main\n",
        "app/lib/util.sh": "util() { :; }\n",
        "app/debug.log": "ignored\n",
        "docs/a.md": "# a\n",
        "docs/sub/b.md": "# b\n",
        "docs/sub/c.txt": "not markdown\n",
        "secret/key": "never copied\n",
        "secret/public.txt": "re-included\n",
        ".dockerignore": "**/*.log\nsecret\n!secret/public.txt\n",
        "Dockerfile": DOCKERFILE,
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    os.chmod(root / "app" / "main.sh", 0o755)
    with tarfile.open(root / "data.tar.gz", "w:gz") as tar:
        for name, data in (("t/u/f", b"from the archive\n"), ("t/top", b"top\n")):
            info = tarfile.TarInfo(name)
            info.size, info.uid, info.gid, info.mode = len(data), 7, 8, 0o600
            tar.addfile(info, io.BytesIO(data))
    return root


@pytest.fixture
def context(tmp_path: Path) -> Path:
    return make_context(tmp_path / "ctx")


def test_build_stage_layers(rb, busybox, context, inspect, tmp_path):
    built = rb("build", "--target", "build", "--build-arg", "GREETING=hi", "-t", "copy:build", context)
    assert built.returncode == 0, built.stderr
    steps = [line for line in built.stdout.splitlines() if line.startswith("STEP ")]
    assert steps[0] == "STEP 1/10: FROM ${REGISTRY}/busybox:latest AS build" and len(steps) == 10
    owned = {}
    for index in range(1, 8):
        members = inspect.members("copy:build", index)
        owned.update({name: (m.uid, m.gid, oct(m.mode)) for name, m in members.items()})
    assert owned["opt/app/main.sh"] == (1000, 1000, "0o755")
    assert owned["opt/app/lib/util.sh"] == (1000, 1000, "0o644")
    assert owned["opt/app"] == (1000, 1000, "0o755")  # created by COPY --chown: owned by app
    assert "opt/app/debug.log" not in owned  # .dockerignore
    assert owned["docs/b.md"][2] == "0o640"  # glob flattens, --chmod
    # `**` is one component in COPY sources, as in BuildKit: docs/**/*.md is docs/*/*.md
    assert "docs/a.md" not in owned and "docs/c.txt" not in owned
    assert "secret/public.txt" in owned and "secret/key" not in owned  # `!` exception
    assert owned["data/t/u/f"] == (7, 8, "0o600")  # ADD unpacks with the archive's owners
    assert owned["etc"][2] == "0o755" and owned["opt/app/bin/main.sh"][2] == "0o755"
    listing = inspect.tar_listing("copy:build", 2)
    assert "1000/1000" in listing and "opt/app/main.sh" in listing
    rootfs = inspect.unpack("copy:build", tmp_path / "bundle")
    assert (rootfs / "etc" / "greeting.txt").read_text() == "hi from a heredoc\n"
    assert (rootfs / "data" / "t" / "u" / "f").read_text() == "from the archive\n"
    assert (rootfs / "bin" / "busybox").is_file() and (rootfs / "opt/app/bin/main.sh").is_file()
    config = inspect.config("copy:build")
    assert config["config"]["WorkingDir"] == "/opt/app" and history_matches_layers(config)


def test_final_stage_runs(rb, busybox, context, inspect, podman, tmp_path):
    built = rb("build", "--build-arg", "GREETING=hi", "-t", "copy:final", "--label", "extra=1", context)
    assert built.returncode == 0, built.stderr
    assert "unused" not in built.stdout and "nothing-here" not in built.stdout
    config = inspect.config("copy:final")
    assert config["config"]["User"] == "app"
    assert config["config"]["Labels"] == {"org.example.stage": "final", "extra": "1"}
    assert config["config"]["Entrypoint"] == ["/bin/sh", "-c"] and history_matches_layers(config)
    rootfs = inspect.unpack("copy:final", tmp_path / "bundle")
    assert (rootfs / "bin" / "busybox-copy").read_bytes() == (rootfs / "bin" / "busybox").read_bytes()
    assert (rootfs / "opt" / "app" / "bin" / "main.sh").is_file()
    ran = podman.run("copy:final")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "hi from a heredoc\n"
    ids = podman("run", "--rm", "--network", "none", "localhost/copy:final",
                 "id -u; stat -c %u:%g:%a /opt/app/main.sh /opt/app/lib")
    assert ids.returncode == 0, ids.stderr
    assert ids.stdout.split() == ["1000", "1000:1000:755", "1000:1000:755"]


def test_dockerfile_on_stdin_and_the_cache(rb, busybox, context):
    args = ["build", "-f", "-", "--target", "build", "-t", "copy:stdin", context]
    first = rb(*args, input=DOCKERFILE)
    assert first.returncode == 0, first.stderr
    again = rb(*args, input=DOCKERFILE)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("--> Using cache") == 9  # every step but FROM
    assert again.stdout.splitlines()[-1] == first.stdout.splitlines()[-1]
    (context / "app" / "lib" / "util.sh").write_text("util() { echo changed; }\n")
    changed = rb(*args, input=DOCKERFILE)
    lines = changed.stdout.splitlines()
    cached = [lines[i - 1] for i, line in enumerate(lines) if line.startswith("--> Using cache")]
    assert cached == ["STEP 2/10: ARG GREETING=hello", "STEP 3/10: COPY passwd group /etc/"]
    assert changed.stdout.splitlines()[-1] != first.stdout.splitlines()[-1]
    no_cache = rb(*args, "--no-cache", input=DOCKERFILE)
    assert no_cache.returncode == 0 and "Using cache" not in no_cache.stdout


def test_named_dockerfile_has_its_own_ignore_file(rb, busybox, tmp_path, inspect):
    context = tmp_path / "ctx"
    (context / "build").mkdir(parents=True)
    for name in ("a.txt", "b.txt"):
        (context / name).write_text(name)
    (context / ".dockerignore").write_text("a.txt\n")
    (context / "build" / "app.Dockerfile").write_text("FROM scratch\nCOPY *.txt /\n")
    (context / "build" / "app.Dockerfile.dockerignore").write_text("b.txt\n")
    built = rb("build", "-f", context / "build" / "app.Dockerfile", "-t", "named:1", context)
    assert built.returncode == 0, built.stderr
    assert sorted(inspect.members("named:1")) == ["a.txt"]  # the Dockerfile's own file wins
    (context / "build" / "app.Dockerfile.dockerignore").unlink()
    default = rb("build", "-f", context / "build" / "app.Dockerfile", "-t", "named:2", context)
    assert default.returncode == 0, default.stderr
    assert sorted(inspect.members("named:2")) == ["b.txt"]  # then the context's .dockerignore
