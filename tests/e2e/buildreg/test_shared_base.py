"""Stages that share a base pull it and unpack it once per build, though each runs in a child
build of its own (builder/prefetch.py): the registry's access log shows every blob fetched
once and, with --pull, each manifest (the base's, an image COPY --from reads) asked for once;
the build's rawjson events show each layer extracted once."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from buildreghelp import REPO, need

pytestmark = [pytest.mark.rootless, pytest.mark.registry]

DOCKERFILE = """\
FROM {base} AS one
RUN echo one > /who
COPY --from={tools} /bin/busybox /bb

FROM {base} AS two
RUN echo two > /who
COPY --from={tools} /bin/busybox /bb

FROM {base} AS three
RUN echo three > /who
COPY --from={tools} /bin/busybox /bb

FROM {base}
COPY --from=one /who /one
COPY --from=two /who /two
COPY --from=three /who /three
"""


@pytest.fixture
def seeded(logged_registry):
    """The test's own registry (access log on), seeded by seed-registry.sh as the shared one is."""
    need("skopeo", "umoci")
    address, log = logged_registry
    seeded = subprocess.run([str(REPO / "scripts/seed-registry.sh"), address], capture_output=True, text=True,
                            timeout=300, stdin=subprocess.DEVNULL)
    assert seeded.returncode == 0, seeded.stderr
    return address, log


def _blob_gets(log: Path, start: int) -> list[str]:
    """Digests of the blobs fetched (GET, not HEAD) after byte `start` of the access log."""
    text = log.read_text(errors="replace")[start:]
    return re.findall(r'"GET /v2/busybox/blobs/(sha256:[0-9a-f]{64}) HTTP/1\.1" 200', text)


def test_shared_base_pulled_and_unpacked_once(rb, tmp_path: Path, seeded) -> None:
    address, log = seeded
    base, tools = f"{address}/busybox:latest", f"{address}/tools:1"
    subprocess.run(["skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false", f"docker://{base}",
                    f"docker://{tools}"], check=True, capture_output=True, timeout=120)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE.format(base=base, tools=tools))
    conf = tmp_path / "registries.conf"
    conf.write_text(f'[[registry]]\nlocation = "{address}"\ninsecure = true\n')
    env = {"CONTAINERS_REGISTRIES_CONF": str(conf), "REGISTRY_AUTH_FILE": str(tmp_path / "auth.json")}
    start = log.stat().st_size

    built = rb("build", "--pull", "--jobs", "4", "--progress", "rawjson", "-o", tmp_path / "fs", ctx, env=env)
    assert built.returncode == 0, built.stderr
    events = [json.loads(line) for line in built.stdout.splitlines() if line.startswith("{")]
    stages_run = {e.get("stage") for e in events if e["event"] == "step"}
    assert {"two", "three"} <= stages_run, stages_run   # child builds made these (this one made "one")

    served = log.read_text(errors="replace")[start:]
    for manifest_path in ("busybox/manifests/latest", "tools/manifests/1"):
        asked = re.findall(rf'"(?:GET|HEAD) /v2/{manifest_path} ', served)
        assert len(asked) == 1, f"--pull asks for {manifest_path} once per build, not once per stage: {len(asked)}"
    fetched = _blob_gets(log, start)
    assert fetched, "no blob GET in the registry's log"
    assert len(fetched) == len(set(fetched)), f"a blob was fetched twice: {fetched}"
    manifest = json.loads(subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{base}"],
                                         capture_output=True, text=True, check=True).stdout)
    layers = {layer["digest"] for layer in manifest["layers"]}
    assert set(fetched) == layers | {manifest["config"]["digest"]}

    extracted = [e["digest"] for e in events if e["event"] == "extracting"]
    assert sorted(extracted) == sorted(layers), f"each base layer extracted once: {extracted}"
    assert len(list((rb.root / "layers").iterdir())) >= len(layers)
    for name in ("one", "two", "three"):
        assert (tmp_path / "fs" / name).read_text() == f"{name}\n"
