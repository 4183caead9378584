"""Each case of testdata/conformance built by Docker's builder and ours: the same image
(config and flattened filesystem), or the same failure. Golden cases (syntax Docker 20.10
cannot build) are checked against the expectation written from the Dockerfile reference."""

from __future__ import annotations

import json
import re

import pytest
from conformance_builds import DOCKER_CONFIG
from conformance_cases import Case, all_cases
from conformance_compare import config_differences, fs_differences
from oci_flatten import read_layout

pytestmark = [pytest.mark.rootless, pytest.mark.registry]

SHOWN = 8


@pytest.mark.parametrize("case", all_cases(), ids=str)
def test_case(case: Case, conformance) -> None:
    result = conformance.get(case)
    ours, docker = result.ours, result.docker
    expected_error = case.spec.get("error")
    if expected_error is not None:
        assert ours.layout is None, f"{case}: our build succeeded, expected an error matching {expected_error!r}"
        assert re.search(expected_error, ours.error), \
            f"{case}: our error does not match {expected_error!r}:\n{ours.error}"
        assert "Traceback" not in ours.error and "internal error" not in ours.error, ours.error
        if docker is not None and docker.layout is not None:
            if case.spec.get("difference"):
                pytest.xfail(f"documented difference ({case.spec['difference']}): Docker accepts it, we refuse")
            pytest.fail(f"{case}: Docker's build succeeded where ours is expected to fail")
        return
    assert ours.layout is not None, f"{case}: our build failed:\n{ours.error}"
    image = read_layout(ours.layout)
    if docker is None:
        differences = golden_differences(case.spec.get("expect", {}), image)
    else:
        assert docker.layout is not None, f"{case}: Docker's build failed, ours succeeded:\n{docker.error}"
        theirs = read_layout(docker.layout)
        theirs.config = json.loads((docker.layout / DOCKER_CONFIG).read_text())
        differences = config_differences(image.config, theirs.config) + fs_differences(
            image, theirs, conformance.started)
    if differences and case.spec.get("difference"):
        pytest.xfail(f"documented difference ({case.spec['difference']}): {differences[0]}")
    assert not differences, f"{case} differs from {case.reference}:\n  " + "\n  ".join(differences[:SHOWN])


def golden_differences(expect: dict, image) -> list[str]:
    out = []
    for key, value in expect.get("image", {}).items():
        if image.config.get(key) != value:
            out.append(f"{key}: ours {image.config.get(key)!r}, expected {value!r}")
    config = image.config.get("config") or {}
    for key, value in expect.get("config", {}).items():
        if config.get(key) != value:
            out.append(f"config.{key}: ours {config.get(key)!r}, expected {value!r}")
    for path, fields in expect.get("files", {}).items():
        entry = image.files.get(path)
        if entry is None:
            out.append(f"{path}: missing")
            continue
        for name, value in fields.items():
            actual = getattr(entry, name) if name != "content" else None
            if name == "content":
                import hashlib

                value, actual = hashlib.sha256(value.encode()).hexdigest(), entry.sha256
            elif name == "mode":
                value, actual = int(value, 8), actual & 0o7777
            if actual != value:
                out.append(f"{path}: {name} ours {actual!r}, expected {value!r}")
    for path in expect.get("absent", []):
        if path in image.files:
            out.append(f"{path}: present, expected absent")
    if image.entries_below_symlinks:
        out.append(f"our layers hold entries beneath a symlink: {image.entries_below_symlinks[:3]}")
    return out
