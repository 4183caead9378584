"""The reference dockerd fixture itself: it starts as root for the unprivileged test user,
serves its private socket, builds with both of its builders, and exports to an OCI layout."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.rootless, pytest.mark.registry]


@pytest.mark.parametrize("buildkit", ["0", "1"], ids=["classic", "buildkit"])
def test_reference_builders_build_and_export(dockerd, tmp_path: Path, buildkit: str) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox:latest\nRUN echo hi > /x\nENV A=b\n")
    tag = f"reference-{buildkit}:latest"
    dockerd.docker("build", "--network", "none", "-q", "-t", tag, ctx,
                   env={"DOCKER_BUILDKIT": buildkit})
    out = dockerd.docker("run", "--rm", "--network", "none", tag, "cat", "/x").stdout
    assert out == "hi\n"
    layout = tmp_path / "oci"
    subprocess.run(
        ["skopeo", "copy", "--src-daemon-host", dockerd.host,
         f"docker-daemon:{tag}", f"oci:{layout}:{tag}"],
        check=True, capture_output=True, text=True, timeout=300,
    )
    index = json.loads((layout / "index.json").read_text())
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == tag
