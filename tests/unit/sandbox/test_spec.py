"""Step specs, mounts, the output tail and diagnosis lines: checks that need no namespace."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from rootless_build.errors import SandboxError
from rootless_build.sandbox import diagnose
from rootless_build.sandbox.spec import Mount, StepInterrupted, StepSpec, mount_target
from rootless_build.sandbox.stepio import last_lines as _last_lines


def spec(**kw):
    base = dict(lowerdirs=[], upperdir=Path("/u"), workdir=Path("/w"), argv=["true"])
    return StepSpec(**(base | kw))


@pytest.mark.parametrize("kw,message", [
    ({"argv": []}, "a step needs a command"),
    ({"network": "bridge"}, "unknown network mode 'bridge'"),
    ({"cwd": "rel"}, "working directory must be absolute"),
])
def test_bad_specs(kw, message):
    with pytest.raises(SandboxError, match=message):
        spec(**kw).check()


def test_mounts_check_their_type_and_source():
    with pytest.raises(SandboxError, match="unknown mount type 'nfs'"):
        Mount("nfs", "/x", Path("/y"))
    with pytest.raises(SandboxError, match="a cache mount needs a source"):
        Mount("cache", "/x")
    assert Mount("tmpfs", "/t").source is None


def test_mount_targets_are_absolute_and_normalised():
    assert mount_target("/app", "cache/../go") == "/app/go"
    assert mount_target("/app", "/run/secrets/x") == "/run/secrets/x"


def test_last_lines_keep_the_end_and_drop_progress_bars():
    out = "".join(f"line{i}\n" for i in range(30)).encode() + b"10%\r50%\r100%\n\n"
    assert _last_lines(out, 3) == ["line28", "line29", "100%"]
    assert _last_lines(b"", 5) == []


def test_interruption_carries_the_shell_status():
    e = StepInterrupted(signal.SIGINT)
    assert e.exit_code == 130 and str(e) == "interrupted by SIGINT"


def test_diagnosis_lines_are_single_lines_with_a_fix():
    for line in diagnose.diagnose():
        assert "\n" not in line and "fix:" in line
