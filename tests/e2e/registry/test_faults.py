"""Pulls and pushes through a misbehaving proxy in front of the real registry: dropped
connections resume, 500 and 429 are retried, a corrupt blob never enters the store, and a
pull killed with SIGKILL leaves the store consistent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from reghelp import ok, skopeo_raw

pytestmark = pytest.mark.registry


def layer_of(ref: str) -> dict:
    return json.loads(skopeo_raw(f"docker://{ref}"))["layers"][0]


def through(proxy, ref: str) -> str:
    """The same image named through the proxy's address."""
    return proxy.address + ref[ref.index("/"):]


def assert_clean(rb) -> None:
    proc = rb("fsck")
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stdout


def test_dropped_connection_resumes_with_a_range_request(rb, fault_proxy, pushed_busybox, isolated_env):
    layer = layer_of(pushed_busybox)
    fault_proxy.add("GET", f"/blobs/{layer['digest']}", "drop", after=100_000)
    ok(rb("pull", through(fault_proxy, pushed_busybox), env=isolated_env))
    gets = fault_proxy.requests("GET", f"/blobs/{layer['digest']}")
    assert [g.range for g in gets] == [None, "bytes=100000-"]
    assert gets[1].status == 206
    assert (rb.root / "blobs" / "sha256" / layer["digest"][7:]).stat().st_size == layer["size"]
    assert_clean(rb)


def test_a_server_that_ignores_range_restarts_the_blob_and_its_checks(rb, fault_proxy, pushed_busybox,
                                                                       isolated_env):
    """After a drop, the registry answers the Range request with the whole blob (200): the
    download starts again from byte 0, and so does the diff_id check that runs beside it."""
    layer = layer_of(pushed_busybox)
    fault_proxy.add("GET", f"/blobs/{layer['digest']}", "drop", after=100_000)
    fault_proxy.add("GET", f"/blobs/{layer['digest']}", "ignore-range")
    ok(rb("pull", through(fault_proxy, pushed_busybox), env=isolated_env))
    gets = fault_proxy.requests("GET", f"/blobs/{layer['digest']}")
    assert [(g.range, g.status) for g in gets] == [(None, 200), ("bytes=100000-", 200)]
    assert (rb.root / "blobs" / "sha256" / layer["digest"][7:]).stat().st_size == layer["size"]
    assert_clean(rb)


@pytest.mark.parametrize("status, headers", [(500, {}), (503, {}), (429, {"Retry-After": "1"})])
def test_temporary_errors_are_retried(rb, fault_proxy, pushed_busybox, isolated_env, status, headers):
    layer = layer_of(pushed_busybox)
    fault_proxy.add("GET", "/manifests/", "status", status=status, headers=headers)
    fault_proxy.add("GET", f"/blobs/{layer['digest']}", "status", status=status, headers=headers)
    started = time.monotonic()
    ok(rb("pull", "-q", through(fault_proxy, pushed_busybox), env=isolated_env))
    elapsed = time.monotonic() - started
    statuses = [s.status for s in fault_proxy.requests("GET", f"/blobs/{layer['digest']}")]
    assert statuses == [status, 200]
    if headers.get("Retry-After"):
        assert elapsed >= 2.0  # two waits of the second the registry asked for
    assert_clean(rb)


def test_a_registry_that_keeps_failing_gives_up_with_one_line(rb, fault_proxy, pushed_busybox, isolated_env):
    fault_proxy.add("GET", "/manifests/", "status", status=500, times=None)
    proc = rb("pull", through(fault_proxy, pushed_busybox), env=isolated_env)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "injected 500" in proc.stderr
    # Five tries in all (the backoff's limit), every one answered 500 by the proxy.
    assert [s.status for s in fault_proxy.requests("GET", "/manifests/")] == [500] * 5


def test_a_blob_with_the_wrong_digest_is_refused_and_not_stored(rb, fault_proxy, pushed_busybox, isolated_env):
    layer = layer_of(pushed_busybox)
    fault_proxy.add("GET", f"/blobs/{layer['digest']}", "corrupt", times=None)
    proc = rb("pull", through(fault_proxy, pushed_busybox), env=isolated_env)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "digest mismatch" in proc.stderr and layer["digest"] in proc.stderr
    assert not (rb.root / "blobs" / "sha256" / layer["digest"][7:]).exists()
    assert list((rb.root / "tmp").iterdir()) == []
    assert json.loads((rb.root / "index.json").read_text())["manifests"] == []
    assert_clean(rb)


def test_sigkill_during_a_pull_leaves_the_store_consistent(rb, fault_proxy, pushed_busybox, isolated_env):
    layer = layer_of(pushed_busybox)
    fault_proxy.add("GET", f"/blobs/{layer['digest']}", "slow", rate=128 * 1024)
    env = {**os.environ, **{k: v for k, v in isolated_env.items() if v is not None}}
    proc = subprocess.Popen([sys.executable, "-m", "rootless_build", "--root", str(rb.root), "pull", "-q",
                             through(fault_proxy, pushed_busybox)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while fault_proxy.body_bytes < 200_000 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the pull ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (rb.root / "blobs" / "sha256" / layer["digest"][7:]).exists()
    assert_clean(rb)
    assert rb("inspect", pushed_busybox).returncode != 0
    ok(rb("pull", "-q", pushed_busybox, env=isolated_env))
    assert_clean(rb)
    raw = skopeo_raw(f"oci:{rb.root}:{pushed_busybox}")
    assert raw == skopeo_raw(f"docker://{pushed_busybox}")


def test_ctrl_c_stops_a_pull_promptly(rb, fault_proxy, pushed_busybox, isolated_env):
    layer = layer_of(pushed_busybox)
    fault_proxy.add("GET", f"/blobs/{layer['digest']}", "slow", rate=64 * 1024)
    env = {**os.environ, **{k: v for k, v in isolated_env.items() if v is not None}}
    proc = subprocess.Popen([sys.executable, "-m", "rootless_build", "--root", str(rb.root), "pull", "-q",
                             through(fault_proxy, pushed_busybox)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 30
    while fault_proxy.body_bytes < 100_000 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    started = time.monotonic()
    _, stderr = proc.communicate(timeout=30)
    assert time.monotonic() - started < 5, "the download went on after Ctrl-C"
    assert proc.returncode == 130 and "\n" not in stderr.strip(), stderr
    assert list((rb.root / "tmp").iterdir()) == []
    assert_clean(rb)


def test_push_retries_a_failed_upload(rb, fault_proxy, busybox_tar, isolated_env):
    ok(rb("import", busybox_tar, "e2e-faults/push:1"))
    fault_proxy.add("PUT", "/blobs/uploads/", "status", status=500)
    fault_proxy.add("PUT", "/manifests/", "status", status=503)
    dest = f"{fault_proxy.address}/e2e-faults/push:1"
    ok(rb("push", "e2e-faults/push:1", dest, env=isolated_env))
    puts = [s.status for s in fault_proxy.seen if s.method == "PUT"]
    assert puts.count(500) == 1 and puts.count(503) == 1
    raw = skopeo_raw(f"docker://{dest}")
    assert json.loads(raw)["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
