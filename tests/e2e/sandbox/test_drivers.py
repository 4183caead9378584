"""Driver detection (real test mounts in the namespace, cached per store) and `info`."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest
from nsrun import DRIVERS, ns_env

pytestmark = pytest.mark.rootless


def test_every_driver_works_here_and_overlay_is_chosen(in_ns, ns_tmp):
    result = in_ns("""
from rootless_build.sandbox import drivers
store = Path(ARGS[0])
probes = drivers.probe_all(store)
chosen = drivers.detect_driver(store)
cache = json.loads((store / "cache" / drivers.CACHE_NAME).read_text())
(store / "cache" / drivers.CACHE_NAME).write_text(json.dumps(dict(cache, driver="vfs")))
cached = drivers.detect_driver(store)
fresh = drivers.detect_driver(store, refresh=True)
emit({"probes": probes, "chosen": chosen, "cache": cache, "cached": cached, "fresh": fresh,
      "named": drivers.detect_driver(store, "fuse-overlayfs"), "tmp": os.listdir(store / "tmp")})
""", ns_tmp)
    assert result["probes"] == {name: None for name in DRIVERS}
    assert result["chosen"] == "overlay"
    assert result["cache"]["kernel"] == platform.release()
    assert result["cached"] == "vfs"          # the cached answer is used, not probed again
    assert result["fresh"] == "overlay"
    assert result["named"] == "fuse-overlayfs"
    assert result["tmp"] == []                # probe dirs are removed


def test_unknown_driver_name_is_a_usage_error():
    from rootless_build.errors import UsageError
    from rootless_build.sandbox.drivers import detect_driver
    with pytest.raises(UsageError, match="unknown storage driver 'zfs'"):
        detect_driver(None, "zfs")


def test_machine_info_from_outside_the_namespace(tmp_path, subuid_ranges):
    code = ("import json, sys; from pathlib import Path; "
            "from rootless_build.sandbox.info import machine_info; "
            "print(json.dumps(machine_info(Path(sys.argv[1]))))")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "store")], env=ns_env(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["user"]["uid"] == os.getuid()
    assert info["user"]["subuid"] == [f"{s}:{c}" for s, c in subuid_ranges]
    assert info["user"]["id_mapping"] == "full"
    assert info["helpers"]["newuidmap"]["usable"] and info["helpers"]["newgidmap"]["usable"]
    assert info["storage_drivers"] == {name: "ok" for name in DRIVERS}
    assert info["default_driver"] == "overlay"
    assert info["fuse_overlayfs"]["version"] and info["fuse_overlayfs"]["dev_fuse"]
    assert info["kernel"] == platform.release()
    assert info["problems"] == []
    assert info["runtime_dir"].endswith("/rootless-build")
