"""run/create's storage flags (-v, --mount, --tmpfs, --device) as docker parses them."""

from __future__ import annotations

import pytest

from rootless_build.containers.mountspec import (
    parse_all,
    parse_device,
    parse_mount,
    parse_tmpfs,
    parse_volume,
    with_image_volumes,
)
from rootless_build.errors import UsageError


def test_volume_flag_binds_names_and_anonymous(tmp_path) -> None:
    m, request = parse_volume(f"{tmp_path}:/data:ro")
    assert (m.type, m.source, m.destination, m.readonly, request) == ("bind", str(tmp_path), "/data", True, None)
    assert parse_volume(f"{tmp_path}:/data/")[0].readonly is False
    m, request = parse_volume("cache:/var/cache:ro")
    assert (m.type, m.name, m.readonly, request.name, request.copy_up) == ("volume", "cache", True, "cache", True)
    m, request = parse_volume("/scratch")
    assert (m.type, m.anonymous, m.destination, request.name) == ("volume", True, "/scratch", "")
    assert parse_volume("data:/d:nocopy")[1].copy_up is False
    for bad, message in (("bad name!:/data", "invalid characters for a local volume name"),
                         (f"{tmp_path}:rel", "unknown option"), (f"{tmp_path}/nope:/x", "does not exist"),
                         (f"{tmp_path}:/x:rx", "unknown option"), ("a:b:c:d", "expected")):
        with pytest.raises(UsageError, match=message):
            parse_volume(bad)


def test_mount_flag_types(tmp_path) -> None:
    m, _ = parse_mount(f"type=bind,source={tmp_path},target=/b,readonly")
    assert (m.type, m.source, m.destination, m.readonly) == ("bind", str(tmp_path), "/b", True)
    m, request = parse_mount('type=volume,src=v1,dst=/v,"volume-opt=o=size=1m,mode=700",volume-opt=type=tmpfs,'
                             "volume-label=a=b,ro=false")
    assert (m.type, m.name, m.readonly) == ("volume", "v1", False)
    assert request.options == {"o": "size=1m,mode=700", "type": "tmpfs"} and request.labels == {"a": "b"}
    m, request = parse_mount("target=/anon")      # docker's default type is volume
    assert (m.type, m.anonymous, request.name) == ("volume", True, "")
    m, _ = parse_mount("type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770")
    assert m.options == ["noexec", "nosuid", "nodev", f"size={64 << 20}", "mode=1770"]


@pytest.mark.parametrize(("spec", "message"), [
    ("type=bind,source=/", "target is required"),
    ("type=tmpfs,target=/t,colour=red", "unexpected key 'colour'"),
    ("type=nfs,target=/t", "mount type 'nfs'"),
    ("type=bind,target=/t", "source is required"),
    ("type=tmpfs,target=/t,volume-nocopy", "volume-nocopy is not allowed for a tmpfs mount"),
    ("type=tmpfs,target=/t,tmpfs-size=lots", "invalid size"),
    ("type=bind,src=/,target=/t,bind-propagation=rshared", "not supported rootless"),
    ("type=volume,target=/t,volume-opt=type=nfs", "only type=tmpfs"),
    ("type=volume,target=rel", "must be absolute"),
])
def test_bad_mount_flags_are_one_line_usage_errors(spec, message) -> None:
    with pytest.raises(UsageError, match=message) as info:
        parse_mount(spec)
    assert "\n" not in str(info.value) and info.value.exit_code == 125


def test_tmpfs_and_device_flags() -> None:
    m = parse_tmpfs("/run:size=1m,exec,mode=755")
    assert (m.type, m.destination, m.options) == ("tmpfs", "/run", ["nosuid", "nodev", f"size={1 << 20}", "mode=755"])
    with pytest.raises(UsageError, match="unknown option"):
        parse_tmpfs("/run:bogus")
    d = parse_device("/dev/null:/dev/mynull:rw")
    assert (d.path_on_host, d.path_in_container, d.permissions) == ("/dev/null", "/dev/mynull", "rw")
    assert parse_device("/dev/zero").path_in_container == "/dev/zero"
    with pytest.raises(UsageError, match="no such file|No such file"):
        parse_device("/dev/nonexistent-device")
    with pytest.raises(UsageError, match="not a device node"):
        parse_device("/etc/passwd")


def test_image_volumes_become_anonymous_unless_covered(tmp_path) -> None:
    pairs = with_image_volumes(parse_all([f"{tmp_path}:/data"], [], ["/tmp"]),
                               {"/data": {}, "/var/lib/db": {}, "/tmp/": {}})
    assert [(m.type, m.destination) for m, _ in pairs] == [("bind", "/data"), ("tmpfs", "/tmp"),
                                                           ("volume", "/var/lib/db")]
    with pytest.raises(UsageError, match="duplicate mount point: /x"):
        parse_all(["/x"], ["target=/x"], [])
