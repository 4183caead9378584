"""Inside a step: its user, /proc, /dev, the generated /etc files, the network, --mount,
and how a failing command is reported."""

from __future__ import annotations

import pytest
from nsrun import DRIVERS

pytestmark = pytest.mark.rootless

USERS_LAYER = """
layer = make_layer(ARGS[1], {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\\napp:x:1000:1000:app:/home/app:/bin/sh\\n",
    "etc/group": "root:x:0:\\napp:x:1000:\\nextra:x:2000:app\\nother:x:3000:root\\n",
    "home/app": (None, 1000, 1000),
})
"""

FACTS = r"""
echo "uid=$(id -u) gid=$(id -g) groups=$(id -G)"
echo "home=$HOME cwd=$(pwd) path=$PATH"
echo "pid=$$ pids=$(ls /proc | grep -E '^[0-9]+$' | sort -n | head -2 | tr '\n' ,)"
echo "hostname=$(hostname) hosts=$(grep -c myhost /etc/hosts) etc_hostname=$(cat /etc/hostname)"
echo x > /dev/null && echo "devnull=ok"
head -c 4 /dev/urandom | wc -c | sed 's/^/urandom=/'
echo "ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\n' ,)"
echo "lo=$(ip -o link show lo | grep -c ',UP')"
echo "sysnet=$(ls /sys/class/net | tr '\n' ,)"
echo "resolv=$(wc -c < /etc/resolv.conf)"
touch /home/app/mine && echo "wrote=ok"
"""


def facts(output: str) -> dict[str, str]:
    found = {}
    for line in output.splitlines():
        for word in line.split(" "):
            key, sep, value = word.partition("=")
            if sep:
                found[key] = value
    return found


@pytest.mark.parametrize("driver", DRIVERS)
def test_user_proc_dev_hosts_and_no_network(driver, in_ns, rootfs, ns_tmp):
    result = in_ns(USERS_LAYER + """
r = step([layer, ARGS[0]], ARGS[2] + "/upper", ARGS[2] + "/work", ["/bin/sh", "-c", ARGS[4]],
         driver=ARGS[3], user="app", cwd="/home/app", hostname="myhost", network="none",
         env=["PATH=/usr/bin:/bin"])
emit({"step": r, "upper": listing(ARGS[2] + "/upper")})
""", rootfs, ns_tmp / "layer", ns_tmp, driver, FACTS)
    step = result["step"]
    assert step["exit_code"] == 0, step["output"]
    got = facts(step["output"])
    assert (got["uid"], got["gid"]) == ("1000", "1000")
    assert set(step["output"].split("groups=")[1].split("\n")[0].split()) == {"1000", "2000"}
    assert (got["home"], got["cwd"], got["path"]) == ("/home/app", "/home/app", "/usr/bin:/bin")
    assert got["pid"] == "1" and got["pids"].startswith("1,")   # pid 1 is the step's own sh
    assert (got["hostname"], got["hosts"], got["etc_hostname"]) == ("myhost", "1", "myhost")
    assert got["devnull"] == "ok" and got["urandom"] == "4"
    assert got["ifaces"] == "lo," and got["lo"] == "1"        # only loopback, and it is up
    assert got["sysnet"] == "lo,"                              # a sysfs of its network
    assert got["resolv"] == "0"
    assert got["wrote"] == "ok"
    mine = result["upper"]["home/app/mine"]
    assert (mine["uid"], mine["gid"]) == (1000, 1000)


def test_host_network_and_resolv_conf(in_ns, rootfs, ns_tmp):
    host_ifaces = sorted(line.split(":")[0].strip() for line in
                         open("/proc/net/dev").read().splitlines()[2:])
    result = in_ns("""
resolv = Path(ARGS[1]) / "resolv.conf"
resolv.write_text("nameserver 192.0.2.53\\n")
r = step([ARGS[0]], ARGS[1] + "/upper", ARGS[1] + "/work", ["/bin/sh", "-c",
         "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort; cat /etc/resolv.conf"],
         resolv_conf=resolv)
emit(r)
""", rootfs, ns_tmp)
    assert result["exit_code"] == 0
    lines = result["output"].split()
    assert lines[:-2] == host_ifaces
    assert lines[-2:] == ["nameserver", "192.0.2.53"]


def test_user_by_uid_and_group_and_root_groups(in_ns, rootfs, ns_tmp):
    result = in_ns(USERS_LAYER + """
out = {}
for user in ("1000:2000", "4242", "root", "app:other", (1000, 2000, [3000, 4000])):
    r = step([layer, ARGS[0]], ARGS[2] + "/upper", ARGS[2] + "/work",
             ["/bin/sh", "-c", "echo $(id -u) $(id -g) $(id -G)"], user=user)
    out[str(user)] = r["output"].strip()
emit(out)
""", rootfs, ns_tmp / "layer", ns_tmp)
    assert result["1000:2000"] == "1000 2000 2000"
    assert result["4242"] == "4242 0 0"
    assert set(result["root"].split()) == {"0", "3000"}
    assert result["app:other"] == "1000 3000 3000"
    assert result["(1000, 2000, [3000, 4000])"] == "1000 2000 2000 3000 4000"


def test_unknown_user_name_is_one_clear_error(in_ns, rootfs, ns_tmp):
    result = in_ns("""
from rootless_build.errors import SandboxError
try:
    step([ARGS[0]], ARGS[1] + "/upper", ARGS[1] + "/work", ["/bin/true"], user="nobody-here")
    emit("no error")
except SandboxError as e:
    emit({"error": str(e), "work": os.listdir(ARGS[1] + "/work")})
""", rootfs, ns_tmp)
    assert result["error"] == "unable to find user nobody-here: no matching entries in passwd file"
    assert result["work"] == []


def test_failing_command_gives_status_and_last_lines(in_ns, rootfs, ns_tmp):
    result = in_ns("""
r = step([ARGS[0]], ARGS[1] + "/upper", ARGS[1] + "/work", ["/bin/sh", "-c",
         "for i in $(seq 1 50); do echo line$i; done; echo oops >&2; exit 100"])
emit(r)
""", rootfs, ns_tmp)
    assert result["exit_code"] == 100
    assert len(result["last_lines"]) == 20
    assert result["last_lines"][0] == "line32" and result["last_lines"][-1] == "oops"
    assert result["output"].splitlines()[0] == "line1"        # everything was streamed


def test_missing_executable_is_127(in_ns, rootfs, ns_tmp):
    result = in_ns("""
emit(step([ARGS[0]], ARGS[1] + "/upper", ARGS[1] + "/work", ["no-such-tool", "x"]))
""", rootfs, ns_tmp)
    assert result["exit_code"] == 127
    assert result["last_lines"] == ['exec: "no-such-tool": executable file not found in $PATH']


def test_missing_workdir_is_created_as_runc_does(in_ns, rootfs, ns_tmp):
    result = in_ns("""
r = step([ARGS[0]], ARGS[1] + "/upper", ARGS[1] + "/work", ["/bin/pwd"], cwd="/app/src")
emit({"step": r, "upper": listing(ARGS[1] + "/upper")})
""", rootfs, ns_tmp)
    assert result["step"]["output"] == "/app/src\n"
    assert result["upper"]["app/src"]["type"] == "d"


@pytest.mark.parametrize("driver", DRIVERS)
def test_run_mounts_are_used_and_never_committed(driver, in_ns, rootfs, ns_tmp):
    script = r"""
cat /ctx/file
touch /ctx/new 2>/dev/null || echo ro-bind=refused
echo scribble > /cow/file && echo cow=written
echo cached >> /cache/log
grep -c ' /scratch tmpfs ' /proc/mounts | sed 's/^/tmpfs=/'
echo "secret=$(cat /run/secrets/token) mode=$(stat -c %a /run/secrets/token)"
"""
    result = in_ns("""
from rootless_build.sandbox.spec import Mount
base = Path(ARGS[1])
make_layer(base / "ctx", {"file": "context-file\\n"})
make_layer(base / "cow", {"file": "original"})
(base / "cache").mkdir()
(base / "secret.txt").write_text("s3cret")
mounts = [Mount("bind", "/ctx", base / "ctx"),
          Mount("bind", "cow", base / "cow", readonly=False),
          Mount("cache", "/cache", base / "cache"),
          Mount("tmpfs", "/scratch", size=1 << 20),
          Mount("secret", "/run/secrets/token", base / "secret.txt")]
outputs = []
for _ in range(2):
    r = step([ARGS[0]], base / "upper", base / "work", ["/bin/sh", "-c", ARGS[3]],
             driver=ARGS[2], mounts=mounts)
    outputs.append(r)
upper = listing(base / "upper")
emit({"steps": outputs, "upper": upper, "cache": (base / "cache/log").read_text(),
      "cow": (base / "cow/file").read_text(), "work": os.listdir(base / "work")})
""", rootfs, ns_tmp, driver, script)
    for step in result["steps"]:
        assert step["exit_code"] == 0, step["output"]
        got = facts(step["output"].replace("context-file", "ctx=context-file"))
        assert got["ctx"] == "context-file" and got["ro-bind"] == "refused"
        assert got["cow"] == "written" and got["tmpfs"] == "1"
        assert (got["secret"], got["mode"]) == ("s3cret", "400")
    assert result["cache"] == "cached\ncached\n"                 # persists across steps
    assert result["cow"] == "original"                           # writes were thrown away
    assert result["work"] == []
    committed = set(result["upper"])
    for target in ("ctx", "cow", "cache", "scratch", "run/secrets", "run/secrets/token"):
        assert target not in committed
    if driver != "vfs":
        assert committed == set()


def test_interactive_step_uses_our_stdin_and_stdout(rootfs, ns_tmp, script_dir):
    import subprocess
    import sys

    from nsrun import ns_command, ns_env, write_script
    script = write_script(script_dir, """
from rootless_build.sandbox.step import StepSpec, run_step
base = Path(ARGS[1])
r = run_step(StepSpec([Path(ARGS[0])], base / "upper", base / "work",
                      ["/bin/sh", "-c", "read x; echo got $x; echo err >&2; exit 4"], interactive=True))
print("status", r.exit_code, r.last_lines)
""")
    (ns_tmp / "upper").mkdir()
    (ns_tmp / "work").mkdir()
    proc = subprocess.run(ns_command(sys.executable, script, rootfs, ns_tmp), env=ns_env(),
                          input="hello\n", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "got hello\nstatus 4 []\n"
    assert proc.stderr == "err\n"
