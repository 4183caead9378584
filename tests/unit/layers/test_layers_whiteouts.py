"""Upper directories of kernel overlayfs and fuse-overlayfs become OCI whiteouts."""

from __future__ import annotations

import io
import os
import stat
import tarfile

import pytest
from conftest import IS_ROOT, can_make_whiteout_device, user_xattrs_supported

from rootless_build.errors import LayerError
from rootless_build.layers.tree import write_tree
from rootless_build.layers.whiteouts import oci_whiteout_target


def names(root, whiteout_format):
    out = io.BytesIO()
    write_tree(root, out, whiteout_format=whiteout_format)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        return [(m.name, m.type) for m in tar]


def upper(tmp_path):
    root = tmp_path / "upper"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "new.conf").write_text("n")
    return root


def test_overlay_char_device_becomes_whiteout(tmp_path):
    root = upper(tmp_path)
    if not can_make_whiteout_device(root):
        pytest.skip("cannot create 0/0 character devices here (needs Linux >= 5.8)")
    os.mknod(root / "etc" / "motd", stat.S_IFCHR | 0o600, os.makedev(0, 0))
    assert names(root, "overlay") == [("etc", tarfile.DIRTYPE), ("etc/.wh.motd", tarfile.REGTYPE),
                                      ("etc/new.conf", tarfile.REGTYPE)]


def test_overlay_user_xattr_opaque_dir(tmp_path):
    root = upper(tmp_path)
    if not user_xattrs_supported(root):
        pytest.skip("filesystem without user xattrs")
    (root / "var" / "cache").mkdir(parents=True)
    (root / "var" / "cache" / "kept").write_text("k")
    os.setxattr(root / "var" / "cache", "user.overlay.opaque", b"y")
    os.setxattr(root / "var", "user.overlay.opaque", b"x")  # 6.7+: "has xattr whiteouts", not opaque
    result = names(root, "overlay")
    assert result[2:] == [("var", tarfile.DIRTYPE), ("var/cache", tarfile.DIRTYPE),
                          ("var/cache/.wh..wh..opq", tarfile.REGTYPE), ("var/cache/kept", tarfile.REGTYPE)]
    # In the plain format the same xattr is just not stored (markers never are).
    assert ("var/cache/.wh..wh..opq", tarfile.REGTYPE) not in names(root, "none")


@pytest.mark.skipif(not IS_ROOT, reason="trusted.* xattrs need CAP_SYS_ADMIN")
def test_overlay_trusted_xattr_opaque_and_redirect(tmp_path):
    root = upper(tmp_path)
    (root / "opq").mkdir()
    try:
        os.setxattr(root / "opq", "trusted.overlay.opaque", b"y")
    except OSError:
        pytest.skip("filesystem refuses trusted xattrs")
    assert ("opq/.wh..wh..opq", tarfile.REGTYPE) in names(root, "overlay")
    (root / "moved").mkdir()
    os.setxattr(root / "moved", "trusted.overlay.redirect", b"/old")
    with pytest.raises(LayerError, match="redirect"):
        names(root, "overlay")


def test_fuse_overlayfs_files_and_xattrs(tmp_path):
    root = upper(tmp_path)
    # Without mknod fuse-overlayfs writes `.wh.name` files and a `.wh..wh..opq` file.
    (root / "etc" / ".wh.shadow").write_bytes(b"")
    (root / "opt").mkdir()
    (root / "opt" / ".wh..wh..opq").write_bytes(b"")
    (root / "opt" / "app").write_text("a")
    expected = [("etc", tarfile.DIRTYPE), ("etc/new.conf", tarfile.REGTYPE), ("etc/.wh.shadow", tarfile.REGTYPE),
                ("opt", tarfile.DIRTYPE), ("opt/.wh..wh..opq", tarfile.REGTYPE), ("opt/app", tarfile.REGTYPE)]
    result = names(root, "fuse-overlayfs")
    assert sorted(result) == sorted(expected)
    assert result.index(("opt", tarfile.DIRTYPE)) + 1 == result.index(("opt/.wh..wh..opq", tarfile.REGTYPE))
    if user_xattrs_supported(root):
        (root / "srv").mkdir()
        os.setxattr(root / "srv", "user.fuseoverlayfs.opaque", b"y")
        assert ("srv/.wh..wh..opq", tarfile.REGTYPE) in names(root, "fuse-overlayfs")
    if can_make_whiteout_device(root):
        os.mknod(root / "etc" / "group", stat.S_IFCHR | 0o600, os.makedev(0, 0))
        assert ("etc/.wh.group", tarfile.REGTYPE) in names(root, "fuse-overlayfs")


def test_plain_format_refuses_files_named_like_whiteouts(tmp_path):
    root = tmp_path / "ctx"
    root.mkdir()
    (root / ".wh.trap").write_text("t")
    with pytest.raises(LayerError, match="whiteout"):
        names(root, "none")


@pytest.mark.parametrize("basename,expected", [
    (".wh.foo", "foo"), (".wh..hidden", ".hidden"), (".wh..wh..opq", None), (".wh..wh.plnk", None),
    ("foo", None), ("foo.wh.bar", None)])
def test_oci_whiteout_target(basename, expected):
    assert oci_whiteout_target(basename) == expected


@pytest.mark.parametrize("basename", [".wh.", ".wh.."])
def test_invalid_whiteouts_refused(basename):
    with pytest.raises(LayerError):
        oci_whiteout_target(basename)
