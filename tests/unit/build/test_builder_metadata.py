"""Config and history of metadata-only builds, compared with the values docker/buildah give."""

from __future__ import annotations

from pathlib import Path

import pytest
from buildhelpers import run_build
from imagehelpers import make_image

EPOCH = 1_700_000_000
CREATED = "2023-11-14T22:13:20Z"

METADATA = """\
FROM scratch
ARG A=1
ENV K=V K2="two words" FROM_ARG=$A
LABEL a=b "c d"=e
WORKDIR /w
WORKDIR sub
USER 1000:1000
EXPOSE 8080 53/udp
VOLUME ["/data", "/more"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --retries=3 CMD ["true"]
SHELL ["/bin/bash", "-c"]
ONBUILD RUN echo hi
ENTRYPOINT ["/e"]
CMD c --flag
MAINTAINER me
"""


@pytest.fixture(autouse=True)
def epoch(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH))


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    path = tmp_path / "ctx"
    path.mkdir()
    return path


def test_metadata_only_config_and_history(store, ctx):
    built = run_build(store, ctx, METADATA, tags=["meta:1"])
    assert built.config["created"] == CREATED
    assert built.config["author"] == "me"
    assert len(built.config["rootfs"]["diff_ids"]) == 2  # each WORKDIR creates its directory (BuildKit)
    assert built.container == {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "K=V", "K2=two words",
                "FROM_ARG=1"],
        "Labels": {"a": "b", "c d": "e"},
        "WorkingDir": "/w/sub",
        "User": "1000:1000",
        "ExposedPorts": {"8080/tcp": {}, "53/udp": {}},
        "Volumes": {"/data": {}, "/more": {}},
        "StopSignal": "SIGTERM",
        "Healthcheck": {"Test": ["CMD", "true"], "Interval": 5_000_000_000, "Retries": 3},
        "Shell": ["/bin/bash", "-c"],
        "OnBuild": ["RUN echo hi"],
        "Entrypoint": ["/e"],
        "Cmd": ["/bin/bash", "-c", "c --flag"],  # shell form runs in the SHELL set above
        "ArgsEscaped": True,  # as BuildKit writes it for CMD and ENTRYPOINT
    }
    lines = METADATA.splitlines()[1:]
    assert [h["created_by"] for h in built.history] == [f"/bin/sh -c #(nop) {line}" for line in lines]
    assert all(h.get("empty_layer", False) is not h["created_by"].endswith(("WORKDIR /w", "WORKDIR sub"))
               and h["created"] == CREATED for h in built.history)
    assert built.history[-1]["author"] == "me"
    assert built.output.splitlines()[0] == "STEP 1/16: FROM scratch"
    assert built.output.splitlines()[-4:] == [
        "COMMIT meta:1", f"--> {built.image.id[7:19]}", "Successfully tagged meta:1", built.image.id[7:]]


def test_rebuild_is_cached_and_reproducible(store, ctx):
    first = run_build(store, ctx, METADATA)
    second = run_build(store, ctx, METADATA)
    assert second.output.count("--> Using cache") == 15
    assert second.image.id == first.image.id
    fresh = run_build(store, ctx, METADATA, no_cache=True)
    assert "Using cache" not in fresh.output
    assert fresh.image.id == first.image.id  # SOURCE_DATE_EPOCH: same inputs, same bytes


def test_entrypoint_drops_the_inherited_cmd(store, ctx):
    make_image(store, [[("x", "file", b"x")]], {"Cmd": ["base-cmd"]}, tag="withcmd:1")
    built = run_build(store, ctx, "FROM withcmd:1\nENTRYPOINT [\"/e\"]\n")
    assert "Cmd" not in built.container
    kept = run_build(store, ctx, "FROM withcmd:1\nCMD [\"mine\"]\nENTRYPOINT [\"/e\"]\n")
    assert kept.container["Cmd"] == ["mine"]


def test_onbuild_triggers_run_in_the_child(store, ctx):
    make_image(store, [[("x", "file", b"x")]], {"OnBuild": ["ENV TRIGGERED=yes", "LABEL from=parent"]},
               tag="parent:1")
    built = run_build(store, ctx, "FROM parent:1\nENV MINE=1\n")
    assert "TRIGGERED=yes" in built.container["Env"]
    assert built.container["Labels"] == {"from": "parent"}
    assert "OnBuild" not in built.container
    assert "STEP 2/4: ENV TRIGGERED=yes" in built.output


def test_labels_tags_and_iidfile(store, ctx, tmp_path):
    iid = tmp_path / "iid"
    built = run_build(store, ctx, "FROM scratch\nLABEL a=1\n", tags=["one:1", "two"],
                      labels={"b": "2"}, iidfile=str(iid))
    assert built.container["Labels"] == {"a": "1", "b": "2"}
    assert iid.read_text() == built.image.id
    assert store.resolve("one:1").id == built.image.id == store.resolve("two:latest").id
    assert "Successfully tagged one:1\nSuccessfully tagged two:latest\n" in built.output


def test_quiet_prints_only_the_id(store, ctx):
    built = run_build(store, ctx, "FROM scratch\nENV A=1\n", quiet=True)
    assert built.output == built.image.id[7:] + "\n"
