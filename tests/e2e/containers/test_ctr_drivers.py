"""A container's changes on each storage driver: kept across restarts, committed as one
layer (deletions as whiteouts, ownership as container ids), and the committed image runs."""

from __future__ import annotations

import pytest
from ctrhelp import record

pytestmark = pytest.mark.rootless

SCRIPT = ("if [ -e /kept ]; then echo persisted; exit 0; fi; "
          "echo kept > /kept && rm /bin/vi && mkdir -p /etc/new && chown 1000:1000 /etc/new "
          "&& rm -rf /home && mkdir /home && touch /home/only")


def _id(rb, name: str) -> str:
    listed = rb("ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}}")
    return next(line.split()[0] for line in listed.stdout.splitlines() if line.split()[1] == name)


@pytest.mark.parametrize("driver", ["overlay", "fuse-overlayfs", "vfs"])
def test_changes_survive_restart_and_commit(rb, busybox, store_root, driver) -> None:
    made = rb("--storage-driver", driver, "run", "--name", "c", busybox, "sh", "-c", SCRIPT)
    assert (made.returncode, made.stdout) == (0, ""), made.stderr
    assert record(store_root, _id(rb, "c"))["driver"] == driver
    again = rb("start", "-a", "c")
    assert (again.returncode, again.stdout) == (0, "persisted\n"), again.stderr
    committed = rb("commit", "c", f"committed-{driver}:1")
    assert committed.returncode == 0, committed.stderr
    ran = rb("run", "--rm", f"committed-{driver}:1", "sh", "-c",
             "cat /kept; ls /bin/vi 2>&1; stat -c %u:%g /etc/new; ls /home")
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[0] == "kept"
    assert "No such file" in lines[1]
    assert lines[2:] == ["1000:1000", "only"]
