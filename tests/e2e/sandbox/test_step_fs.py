"""What a step leaves in its upper dir, for each driver: new files with container ids,
deletions as whiteouts, replaced dirs as opaque dirs, and nothing of the sandbox itself."""

from __future__ import annotations

import pytest
from nsrun import DRIVERS

pytestmark = pytest.mark.rootless

# A layer above busybox: a file to delete, a dir to replace, a user and a group.
LAYER = """
layer = make_layer(ARGS[1], {
    "etc/motd": "hello",
    "data/old1": "1",
    "data/old2": "2",
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\\napp:x:1000:1000:app:/home/app:/bin/sh\\n",
    "etc/group": "root:x:0:\\napp:x:1000:\\nextra:x:2000:app\\n",
    "home/app": (None, 1000, 1000),
})
"""


def overlay_whiteout(upper: dict, path: str) -> bool:
    """A deletion in an overlay upper dir: a 0/0 char device (or fuse-overlayfs's .wh. file)."""
    entry = upper.get(path)
    if entry is not None:
        return entry["type"] == "c" and entry["rdev"] == 0
    head, _, name = path.rpartition("/")
    return f"{head}/.wh.{name}".lstrip("/") in upper


@pytest.mark.parametrize("driver", DRIVERS)
def test_changes_whiteouts_and_opaque_dirs(driver, in_ns, rootfs, ns_tmp):
    result = in_ns(LAYER + """
r = step([layer, ARGS[0]], ARGS[2] + "/upper", ARGS[2] + "/work", ["/bin/sh", "-c",
    "echo new > /newfile && chown 1000:1000 /newfile && rm /etc/motd && rm -rf /data && "
    "mkdir /data && echo n > /data/new && mkdir -p /var/cache/x"], driver=ARGS[3])
emit({"step": r, "upper": listing(ARGS[2] + "/upper"), "work": os.listdir(ARGS[2] + "/work")})
""", rootfs, ns_tmp / "layer", ns_tmp, driver)
    assert result["step"]["exit_code"] == 0, result["step"]["output"]
    upper = result["upper"]
    assert upper["newfile"]["type"] == "f"
    assert (upper["newfile"]["uid"], upper["newfile"]["gid"]) == (1000, 1000)
    assert upper["data/new"]["type"] == "f"
    assert "data/old1" not in upper and "data/old2" not in upper
    assert upper["var/cache/x"]["type"] == "d"
    if driver == "vfs":
        # The full copy: the deletion and the replacement are plain.
        assert "etc/motd" not in upper
        assert sorted(k for k in upper if k.startswith("data/")) == ["data/new"]
        assert "etc/passwd" in upper and "bin/busybox" in upper
    else:
        assert overlay_whiteout(upper, "etc/motd")
        assert upper["data"]["opaque"]
        if driver == "overlay":
            assert upper["etc/motd"]["type"] == "c" and upper["etc/motd"]["rdev"] == 0
    assert result["work"] == []


@pytest.mark.parametrize("with_etc_files", [False, True], ids=["image-without-etc-files", "image-with-etc-files"])
@pytest.mark.parametrize("driver", DRIVERS)
def test_nothing_of_the_sandbox_reaches_the_upper_dir(driver, with_etc_files, in_ns, rootfs, ns_tmp):
    extra = {"etc/hosts": "1.2.3.4 image\n", "etc/resolv.conf": "nameserver 9.9.9.9\n",
             "etc/hostname": "image\n"} if with_etc_files else {"etc/empty": ""}
    result = in_ns("""
extra = make_layer(ARGS[1], json.loads(ARGS[4]))
lowers = [extra, ARGS[0]]
upper = ARGS[2] + "/upper"
if ARGS[3] == "vfs":
    from rootless_build.sandbox.vfs import populate
    Path(upper).mkdir(parents=True)
    populate([Path(p) for p in lowers], Path(upper))
before = listing(upper)
script = ("ls /proc/self /sys/class >/dev/null && echo x > /dev/null && cat /etc/hosts "
          "/etc/resolv.conf /etc/hostname && ls /dev/pts /dev/shm >/dev/null && "
          "echo '192.0.2.1 extra' >> /etc/hosts && echo nameserver 192.0.2.2 >> /etc/resolv.conf")
first = step(lowers, upper, ARGS[2] + "/work", ["/bin/sh", "-c", script], driver=ARGS[3])
after_first = listing(upper)
second = step(lowers, upper, ARGS[2] + "/work", ["/bin/mkdir", "/etc/x"], driver=ARGS[3])
emit({"first": first, "second": second, "before": before, "after_first": after_first,
      "after_second": listing(upper), "work": os.listdir(ARGS[2] + "/work")})
""", rootfs, ns_tmp / "extra", ns_tmp, driver, json_arg(extra))
    assert result["first"]["exit_code"] == 0, result["first"]["output"]
    assert result["second"]["exit_code"] == 0, result["second"]["output"]
    assert "rootless-build" in result["first"]["output"]      # the generated files were shown
    # The first step changed nothing: not even the directories' times.
    assert result["after_first"] == result["before"]
    after = without_fuse_markers(result["after_second"])
    changed = {k for k, v in after.items() if result["before"].get(k) != v}
    assert changed == {"etc", "etc/x"}
    assert result["work"] == []
    if driver != "vfs":
        assert set(after) == {"etc", "etc/x"}


def without_fuse_markers(upper: dict) -> dict:
    """fuse-overlayfs marks every directory it creates opaque: a `.wh..wh..opq` file and a
    `.wh..opq` 0/0 device inside it (the layer writer turns them into the OCI marker)."""
    return {k: v for k, v in upper.items() if not k.rpartition("/")[2].startswith(".wh.")}


def json_arg(obj) -> str:
    import json
    return json.dumps(obj)


@pytest.mark.parametrize("driver", DRIVERS)
def test_two_hundred_lower_dirs_with_long_paths(driver, in_ns, rootfs, ns_tmp):
    result = in_ns("""
base = Path(ARGS[1])
lowers = []
for i in range(200):
    d = base / ("long-directory-name-" * 5) / f"layer-{i:03d}-{'x' * 60}"
    make_layer(d, {f"from-{i:03d}": str(i), "which": str(i)})
    lowers.append(d)
lowers.append(Path(ARGS[0]))
r = step(lowers, ARGS[1] + "/upper", ARGS[1] + "/work",
         ["/bin/sh", "-c", "cat /which; echo; ls / | grep -c from-; cat /from-199"], driver=ARGS[2])
emit({"step": r, "length": sum(len(str(p)) + 1 for p in lowers)})
""", rootfs, ns_tmp, driver, timeout=300)
    assert result["length"] > 4096     # more than one page of mount options
    assert result["step"]["exit_code"] == 0, result["step"]["output"]
    assert result["step"]["output"].split() == ["0", "200", "199"]


def test_legacy_mount_path_takes_long_lists_too(in_ns, rootfs, ns_tmp):
    """Kernels before 6.8 lack `lowerdir+`: short symlink names keep mount(2)'s data short."""
    result = in_ns("""
from rootless_build.sandbox import libc
from rootless_build.sandbox.overlay import mount_overlay
base = Path(ARGS[0])
lowers = []
for i in range(150):
    d = base / ("long-directory-name-" * 5) / f"layer-{i:03d}-{'x' * 60}"
    make_layer(d, {f"from-{i:03d}": str(i), "which": str(i)})
    lowers.append(d)
for name in ("upper", "work", "merged"):
    (base / name).mkdir()
libc.unshare(libc.CLONE_NEWNS)
mounted = mount_overlay(lowers, base / "upper", base / "work", base / "merged", legacy=True)
names = sorted(os.listdir(base / "merged"))
which = (base / "merged" / "which").read_text()
options = [l for l in mountinfo() if " " + str(base / "merged") + " " in l][0]
mounted.release()
emit({"count": sum(n.startswith("from-") for n in names), "which": which, "options": options,
      "leftovers": sorted(os.listdir(base))})
""", ns_tmp, timeout=300)
    assert result["count"] == 150
    assert result["which"] == "0"
    assert "lowerdir=0:1:2:" in result["options"]
    long_name = "long-directory-name-" * 5
    assert result["leftovers"] == [long_name, "merged", "upper", "work"]
