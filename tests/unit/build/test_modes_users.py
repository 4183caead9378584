"""--chmod (octal and symbolic) and --chown name resolution."""

from __future__ import annotations

import pytest

from rootless_build.builder.modes import parse_chmod
from rootless_build.builder.users import resolve_chown
from rootless_build.errors import BuildError

PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n"
GROUP = "root:x:0:\nstaff:x:50:\napp:x:1001:\n"


def files(path):
    return {"/etc/passwd": PASSWD, "/etc/group": GROUP}.get(path)


@pytest.mark.parametrize("spec,mode,is_dir,expected", [
    ("755", 0o600, False, 0o755),
    ("0644", 0o777, True, 0o644),
    ("4755", 0o600, False, 0o4755),
    ("u+x", 0o644, False, 0o744),
    ("go-w", 0o666, False, 0o644),
    ("a=r", 0o777, False, 0o444),
    ("a+X", 0o644, False, 0o644),  # X only for dirs or already executable files
    ("a+X", 0o644, True, 0o755),
    ("a+X", 0o744, False, 0o755),
    ("u=rw,go=r", 0o777, False, 0o644),
    ("+x", 0o600, False, 0o711),
    ("g=u", 0o740, False, 0o770),
])
def test_chmod(spec, mode, is_dir, expected):
    assert parse_chmod(spec).apply(mode, is_dir) == expected


@pytest.mark.parametrize("spec", ["9", "rwx", "u+q", "", "0o755"])
def test_bad_chmod(spec):
    with pytest.raises(BuildError, match="invalid --chmod"):
        parse_chmod(spec)


@pytest.mark.parametrize("spec,ids", [
    ("app", (1000, 1000)),  # no group: the gid is the uid's number, as docker does
    ("app:app", (1000, 1001)),
    ("app:staff", (1000, 50)),
    ("1000:50", (1000, 50)),
    ("42", (42, 42)),
    ("root:1001", (0, 1001)),
])
def test_chown(spec, ids):
    assert resolve_chown(spec, files) == ids


def test_chown_unknown_names():
    with pytest.raises(BuildError, match="unable to find user nobody: no matching entries in passwd file"):
        resolve_chown("nobody", files)
    with pytest.raises(BuildError, match="unable to find group wheel"):
        resolve_chown("app:wheel", files)
    with pytest.raises(BuildError, match="unable to find user app"):
        resolve_chown("app", lambda _path: None)
