"""USER resolution against an image's /etc/passwd and /etc/group."""

from __future__ import annotations

import pytest

from rootless_build.errors import SandboxError
from rootless_build.sandbox.users import home_dir, resolve_user


@pytest.fixture
def rootfs(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n# comment\napp:x:1000:1000:App:/home/app:/bin/sh\n"
        "svc:x:1001:100:svc::/bin/false\nbroken line\n")
    (tmp_path / "etc/group").write_text(
        "root:x:0:\nusers:x:100:app\napp:x:1000:\nstaff:x:50:app,svc\nwheel:x:10:root\n")
    return tmp_path


@pytest.mark.parametrize("spec,expected", [
    ("", (0, 0, [])),
    ("root", (0, 0, [10])),
    ("0", (0, 0, [10])),
    ("app", (1000, 1000, [100, 50])),
    ("1000", (1000, 1000, [100, 50])),
    ("app:staff", (1000, 50, [])),
    ("app:77", (1000, 77, [])),
    ("1000:1000", (1000, 1000, [])),
    ("4242", (4242, 0, [])),
    ("4242:4242", (4242, 4242, [])),
    ("svc", (1001, 100, [50])),
])
def test_resolve(rootfs, spec, expected):
    assert resolve_user(rootfs, spec) == expected


def test_unknown_names_are_one_line_errors(rootfs):
    with pytest.raises(SandboxError, match="^unable to find user ghost: no matching entries in passwd file$"):
        resolve_user(rootfs, "ghost")
    with pytest.raises(SandboxError, match="^unable to find group nogroup: no matching entries in group file$"):
        resolve_user(rootfs, "app:nogroup")


def test_image_without_passwd_takes_numbers_only(tmp_path):
    assert resolve_user(tmp_path, "1234:5") == (1234, 5, [])
    with pytest.raises(SandboxError):
        resolve_user(tmp_path, "app")


def test_home(rootfs):
    assert home_dir(rootfs, 1000) == "/home/app"
    assert home_dir(rootfs, 1001) == "/"
    assert home_dir(rootfs, 9) == "/"
