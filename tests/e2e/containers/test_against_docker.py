"""The same steps in a real docker (the session's dockerd) and here: `diff`, the shape of
container `inspect`, `port`, the headers of `table` formats and the filter messages."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.rootless

SCRIPT = "echo hi > /hello; rm /etc/group; mkdir -p /tmp/d/e; echo x >> /etc/passwd; rm -r /home; touch /bin/new"


def ok(proc):
    assert proc.returncode == 0, proc.stderr
    return proc


def test_diff_matches_docker(rb, busybox, dockerd) -> None:
    dockerd.docker("rm", "-f", "rb-diff", check=False)
    dockerd.docker("run", "--name", "rb-diff", "busybox", "sh", "-c", SCRIPT)
    try:
        theirs = dockerd.docker("diff", "rb-diff").stdout.splitlines()
    finally:
        dockerd.docker("rm", "-f", "rb-diff", check=False)
    ok(rb("run", "--name", "rb-diff", busybox, "sh", "-c", SCRIPT))
    ours = ok(rb("diff", "rb-diff")).stdout.splitlines()
    # the same lines; docker's order is its tree walk's (map order), ours sorted by path
    assert sorted(ours) == sorted(theirs) and ours == sorted(ours, key=lambda line: line[2:])


def test_container_inspect_has_dockers_shape(rb, busybox, dockerd) -> None:
    dockerd.docker("rm", "-f", "rb-shape", check=False)
    dockerd.docker("run", "-d", "--name", "rb-shape", "-l", "a=b", "busybox", "sleep", "300")
    try:
        theirs = json.loads(dockerd.docker("inspect", "rb-shape").stdout)[0]
        their_port = dockerd.docker("port", "rb-shape")
        their_type = dockerd.docker("inspect", "--type", "image", "rb-shape", check=False)
    finally:
        dockerd.docker("rm", "-f", "rb-shape", check=False)
    ok(rb("run", "-d", "--name", "rb-shape", "-l", "a=b", busybox, "sleep", "300"))
    ours = json.loads(ok(rb("inspect", "rb-shape")).stdout)[0]
    assert set(ours["State"]) == set(theirs["State"]) - {"Health"}
    assert [k for k in ours["State"]] == [k for k in theirs["State"] if k != "Health"]
    for section in ("", "Config", "HostConfig", "NetworkSettings"):
        mine = set(ours[section] if section else ours)
        assert mine <= set(theirs[section] if section else theirs) | {"Init"}, section
    for key in ("Id", "Created", "Path", "Args", "State", "Image", "Name", "RestartCount", "Driver", "Mounts",
                "Config", "HostConfig", "NetworkSettings"):
        assert key in ours
    for key in ("Path", "Args", "Name"):
        assert ours[key] == theirs[key]
    for key in ("Status", "Running", "Paused", "Restarting", "OOMKilled", "Dead", "ExitCode", "Error"):
        assert ours["State"][key] == theirs["State"][key], key
    assert ours["Config"]["Labels"] == theirs["Config"]["Labels"] == {"a": "b"}
    assert ours["Config"]["Cmd"] == theirs["Config"]["Cmd"]
    # a container without published ports: nothing printed, exit 0, as docker
    mine = rb("port", "rb-shape")
    assert (mine.returncode, mine.stdout) == (their_port.returncode, their_port.stdout) == (0, "")
    wrong = rb("inspect", "--type", "image", "rb-shape")
    assert wrong.returncode == their_type.returncode == 1
    assert wrong.stderr.strip() == their_type.stderr.strip()


@pytest.mark.parametrize("command, template", [
    (["ps", "-a"], "table {{.ID}}\t{{.Image}}\t{{.Status}}\t{{.Names}}\t{{.RunningFor}}\t{{.CreatedAt}}"),
    (["images"], "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.Digest}}"),
    (["history", "busybox"], "table {{.ID}}\t{{.CreatedBy}}\t{{.CreatedSince}}\t{{.Size}}\t{{.Comment}}"),
])
def test_table_headers_match_docker(rb, busybox, dockerd, command, template) -> None:
    if command[0] == "history":
        ok(rb("tag", busybox, "busybox"))
    theirs = dockerd.docker(*command, "--format", template).stdout.splitlines()[0]
    ours = ok(rb(*command, "--format", template)).stdout.splitlines()[0]
    # the same headers (the column widths follow the cells, which differ)
    assert ours.split() == theirs.split()


@pytest.mark.parametrize("command", [["ps", "--filter", "bogus=1"], ["images", "--filter", "bogus=1"],
                                     ["ps", "--filter", "status=sleeping"], ["ps", "--filter", "novalue"]])
def test_filter_errors_match_docker(rb, busybox, dockerd, command) -> None:
    theirs = dockerd.docker(*command, check=False)
    ours = rb(*command)
    assert theirs.returncode != 0 and ours.returncode != 0
    their_message = theirs.stderr.strip().removeprefix("Error response from daemon: ")
    assert ours.stderr.strip().removeprefix("Error: ") in their_message
