"""RUN --mount=type=ssh: a real ssh-agent holding a key made by the test is reached from a
step (debian's perl speaks the agent protocol: REQUEST_IDENTITIES, then the answer's key
comments), through $SSH_AUTH_SOCK or a chosen target; with --ssh default (our agent's
socket), --ssh ID=SOCKET and --ssh ID=KEYFILE (a private agent the build starts and
stops). The key itself is found nowhere: not in the image, the saved archive, the store."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import time

import pytest

pytestmark = pytest.mark.rootless

FROM = "ARG REGISTRY\nFROM ${REGISTRY}/debian:latest\n"
COMMENT = "rb-test-key@example"
AGENT_CLIENT = r"""
use strict;
use IO::Socket::UNIX;
my $path = shift // $ENV{SSH_AUTH_SOCK} // die "SSH_AUTH_SOCK is not set\n";
-S $path or die "$path is not a socket\n";
my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $path) or die "connect $path: $!\n";
print $s pack("NC", 1, 11);                       # SSH2_AGENTC_REQUEST_IDENTITIES
sub take { my $n = shift; my $buf = ""; while (length($buf) < $n) {
    my $got = sysread($s, $buf, $n - length($buf), length($buf)); die "short read\n" unless $got; } $buf }
my $len = unpack("N", take(4));
my $body = take($len);
my ($type, $count) = unpack("CN", $body);
die "unexpected answer $type\n" unless $type == 12;   # SSH2_AGENT_IDENTITIES_ANSWER
my $at = 5;
for (1 .. $count) {
    my $blob = unpack("N", substr($body, $at, 4)); $at += 4 + $blob;
    my $clen = unpack("N", substr($body, $at, 4)); print substr($body, $at + 4, $clen), "\n"; $at += 4 + $clen;
}
"""


def _ok(done) -> None:
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr


@pytest.fixture
def key(tmp_path):
    if not shutil.which("ssh-keygen") or not shutil.which("ssh-agent"):
        pytest.skip("openssh-client is not installed")
    path = tmp_path / "id_test"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", COMMENT, "-f", path], check=True)
    return path


@pytest.fixture
def agent(key, tmp_path):
    """A real ssh-agent holding the key: its socket path."""
    directory = tmp_path / "agent"
    directory.mkdir(mode=0o700)
    socket = directory / "sock"
    process = subprocess.Popen(["ssh-agent", "-D", "-a", socket], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        for _ in range(500):
            if socket.exists():
                break
            time.sleep(0.01)
        subprocess.run(["ssh-add", "-q", key], env=dict(os.environ, SSH_AUTH_SOCK=str(socket)), check=True,
                       stdin=subprocess.DEVNULL, capture_output=True)
        yield socket
    finally:
        process.terminate()
        process.wait()


def _secret_bytes(key) -> bytes:
    lines = key.read_text().splitlines()
    return "".join(lines[1:-1]).encode()[:40]  # a slice of the base64 private key


def _nowhere(rb, inspect, tag, key, tmp_path) -> None:
    needle = _secret_bytes(key)
    archive = tmp_path / f"{tag.replace(':', '-')}.tar"
    _ok(rb("save", "--compression", "none", "-o", archive, tag))
    with tarfile.open(archive) as outer:
        for member in outer.getmembers():
            if member.isfile():
                assert needle not in outer.extractfile(member).read(), member.name
    for directory, _, files in os.walk(rb.root):
        for name in files:
            path = os.path.join(directory, name)
            if os.path.isfile(path) and not os.path.islink(path) and os.access(path, os.R_OK):
                with open(path, "rb") as f:
                    assert needle not in f.read(), path


def test_agent_socket_is_reached_from_a_run(rb, pull, context, build, inspect, agent, key, tmp_path):
    pull("debian")
    ctx = context(FROM + """\
RUN --mount=type=bind,source=agent.pl,target=/agent.pl --mount=type=ssh perl /agent.pl > /default.txt
RUN --mount=type=bind,source=agent.pl,target=/agent.pl --mount=type=ssh,id=work,target=/tmp/work.sock \\
    perl /agent.pl /tmp/work.sock > /work.txt && test ! -e /tmp/work.sock.keep
""", files={"agent.pl": AGENT_CLIENT})
    done = build(ctx, "-t", "ssh:1", "--ssh", "default", "--ssh", f"work={agent}",
                 env={"SSH_AUTH_SOCK": str(agent)})
    _ok(done)
    rootfs = inspect.unpack("ssh:1")
    assert (rootfs / "default.txt").read_text() == COMMENT + "\n"
    assert (rootfs / "work.txt").read_text() == COMMENT + "\n"
    assert not (rootfs / "run" / "buildkit").exists() or not any((rootfs / "run" / "buildkit").iterdir())
    _nowhere(rb, inspect, "ssh:1", key, tmp_path)


def test_key_file_is_loaded_into_a_private_agent(rb, pull, context, build, inspect, key, tmp_path):
    pull("debian")
    ctx = context(FROM + "RUN --mount=type=bind,source=agent.pl,target=/agent.pl "
                  "--mount=type=ssh,id=deploy,required=true perl /agent.pl > /keys.txt\n",
                  files={"agent.pl": AGENT_CLIENT})
    temp = tmp_path / "t"
    temp.mkdir()
    done = build(ctx, "-t", "ssh:2", "--ssh", f"deploy={key}", env={"SSH_AUTH_SOCK": None, "TMPDIR": str(temp)})
    _ok(done)
    assert (inspect.unpack("ssh:2") / "keys.txt").read_text() == COMMENT + "\n"
    _nowhere(rb, inspect, "ssh:2", key, tmp_path)
    leftover = subprocess.run(["pgrep", "-u", str(os.getuid()), "-f", "ssh-agent -D -a .*rb-ssh-"],
                              capture_output=True, text=True, check=False)
    assert leftover.stdout == "", "the build's private agent is still running"
    assert list(temp.iterdir()) == []  # the agent's directory is gone


def test_required_ssh_missing_is_one_line(pull, context, build):
    pull("debian")
    ctx = context(FROM + "RUN --mount=type=ssh,required=true true\n")
    done = build(ctx, env={"SSH_AUTH_SOCK": None})
    assert done.returncode == 1
    assert done.stderr.splitlines()[0].endswith(
        "ssh agent default is required: pass it with --ssh default[=SOCKET|KEYFILE]")
    bad = build(ctx, "--ssh", "default", env={"SSH_AUTH_SOCK": None})
    assert bad.returncode != 0 and "SSH_AUTH_SOCK is not set" in bad.stderr and "Traceback" not in bad.stderr
