"""Mount points for a step without committing them: the init layer, and vfs in place."""

from __future__ import annotations

import os

from rootless_build.sandbox.mountpoints import FIXED, build_init_layer, create_in_place


def make(root, entries):
    for rel in entries:
        path = root / rel
        if rel.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("x")
    return root


def test_init_layer_has_only_what_the_image_lacks(tmp_path):
    lower = make(tmp_path / "lower", ["proc/", "etc/passwd", "etc/hosts"])
    os.chmod(lower / "etc", 0o750)
    os.utime(lower / "etc", ns=(10**9, 2 * 10**9))
    init = tmp_path / "init"
    init.mkdir()
    build_init_layer([lower], init, [*FIXED, ("/run/secrets/id", "file"), ("/cache/go", "dir")])
    found = sorted(str(p.relative_to(init)) for p in init.rglob("*"))
    assert found == ["cache", "cache/go", "dev", "etc", "etc/hostname", "etc/resolv.conf",
                     "run", "run/secrets", "run/secrets/id", "sys"]
    # The stand-in for /etc looks like the image's own.
    st = os.stat(init / "etc")
    assert st.st_mode & 0o7777 == 0o750 and st.st_mtime_ns == 2 * 10**9
    assert (init / "etc/hostname").is_file() and (init / "cache/go").is_dir()


def test_init_layer_skips_paths_behind_symlinks(tmp_path):
    lower = make(tmp_path / "lower", ["real/"])
    os.symlink("real", lower / "etc")
    init = tmp_path / "init"
    init.mkdir()
    build_init_layer([lower], init, [("etc/hosts", "file")])
    assert list(init.iterdir()) == []


def test_in_place_creation_is_undone_with_times(tmp_path):
    root = make(tmp_path / "root", ["etc/passwd", "proc/", "dev/", "sys/"])
    os.utime(root / "etc", ns=(1, 5 * 10**9))
    os.utime(root, ns=(1, 6 * 10**9))
    before = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    record = create_in_place(root, [*FIXED, ("run/secrets/x", "file")])
    assert (root / "etc/hosts").is_file() and (root / "run/secrets/x").is_file()
    record.remove()
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == before
    assert os.stat(root / "etc").st_mtime_ns == 5 * 10**9
    assert os.stat(root).st_mtime_ns == 6 * 10**9


def test_in_place_keeps_what_the_step_did(tmp_path):
    root = make(tmp_path / "root", ["etc/passwd"])
    os.utime(root / "etc", ns=(1, 5 * 10**9))
    record = create_in_place(root, [("etc/hosts", "file"), ("run/cache", "dir")])
    # The step writes into /etc itself and puts a file under a mount point's parent.
    os.utime(root / "etc", ns=(1, 9 * 10**9))
    (root / "etc/new").write_text("n")
    (root / "run/kept").write_text("k")
    record.remove()
    assert not (root / "etc/hosts").exists() and (root / "etc/new").exists()
    assert os.stat(root / "etc").st_mtime_ns != 5 * 10**9
    assert (root / "run/kept").exists() and not (root / "run/cache").exists()
