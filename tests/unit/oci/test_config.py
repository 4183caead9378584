"""The config rules of metadata instructions: pure, and the same for a Dockerfile and
`commit`/`import --change`."""

from __future__ import annotations

import pytest

from rootless_build.archive.changes import apply_changes
from rootless_build.dockerfile.dockerfile import parse_instruction
from rootless_build.dockerfile.expanded import expanded
from rootless_build.oci import config as oc


def _apply(inner: dict, line: str, **kw) -> dict:
    return oc.apply_instruction(inner, expanded(parse_instruction(line), {}, filename="Dockerfile"), **kw)


@pytest.mark.parametrize(("start", "line", "workdir"), [
    ("/app", "WORKDIR ../x", "/x"),
    ("/app", "WORKDIR sub/", "/app/sub"),
    ("/", "WORKDIR /tmp/", "/tmp"),
    ("/a", "WORKDIR /b//c/./d/..", "/b/c"),
])
def test_workdir_is_joined_and_cleaned_alike(start: str, line: str, workdir: str) -> None:
    inner = {"WorkingDir": start}
    assert _apply(inner, line)["WorkingDir"] == workdir
    assert apply_changes(inner, [line])["WorkingDir"] == workdir


def test_edits_return_a_new_config_and_leave_the_old_one() -> None:
    inner = {"Env": ["A=1", "B=2"], "Cmd": ["sh"]}
    after = _apply(inner, "ENV A=3 C=4")
    assert after["Env"] == ["A=3", "B=2", "C=4"]
    assert inner == {"Env": ["A=1", "B=2"], "Cmd": ["sh"]}


def test_entrypoint_drops_an_inherited_cmd_but_keeps_one_set_in_the_stage() -> None:
    inner = {"Cmd": ["sh"]}
    assert "Cmd" not in _apply(inner, 'ENTRYPOINT ["/bin/app"]')
    assert _apply(inner, 'ENTRYPOINT ["/bin/app"]', cmd_set=True)["Cmd"] == ["sh"]
    assert "Cmd" not in apply_changes(inner, ['ENTRYPOINT ["/bin/app"]'])


def test_shell_form_runs_under_the_configured_shell() -> None:
    inner = {"Shell": ["/bin/bash", "-c"]}
    assert _apply(inner, "CMD echo hi")["Cmd"] == ["/bin/bash", "-c", "echo hi"]
    assert apply_changes(inner, ["CMD echo hi"])["Cmd"] == ["/bin/bash", "-c", "echo hi"]


def test_expose_volume_label_onbuild_merge() -> None:
    inner = _apply({}, "EXPOSE 80 8000-8001/udp")
    assert inner["ExposedPorts"] == {"80/tcp": {}, "8000/udp": {}, "8001/udp": {}}
    assert _apply(inner, "VOLUME /data")["Volumes"] == {"/data": {}}
    assert _apply({"Labels": {"a": "1"}}, "LABEL b=2")["Labels"] == {"a": "1", "b": "2"}
    assert _apply({"OnBuild": ["RUN a"]}, "ONBUILD RUN b")["OnBuild"] == ["RUN a", "RUN b"]


def test_history_entry_fields() -> None:
    entry = oc.history_entry("2020-01-01T00:00:00Z", "sh", empty_layer=True, author="me", comment="c")
    assert entry == {"created": "2020-01-01T00:00:00Z", "created_by": "sh", "author": "me", "comment": "c",
                     "empty_layer": True}
    assert oc.rfc3339(1_500_000_000_100_000_000) == "2017-07-14T02:40:00.1Z"
