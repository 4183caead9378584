"""Networking as rbuild: a network namespace per container through slirp4netns, published
ports answering on the host's 127.0.0.1, -P from EXPOSE, --network none, the host's
loopback through slirp4netns's 10.0.2.2 alias, --dns and --add-host."""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ctrhelp import record

from rootless_build.containers.catalog import Catalog
from rootless_build.containers.network import port_lines

pytestmark = pytest.mark.rootless

TESTDATA = Path(__file__).resolve().parents[3] / "testdata" / "network"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _curl(port: int, timeout: float = 15.0) -> str:
    """curl from the host until the port answers (the server needs a moment to listen)."""
    deadline = time.monotonic() + timeout
    while True:
        done = subprocess.run(["curl", "-fsS", "-m", "3", f"http://127.0.0.1:{port}/"],
                              capture_output=True, text=True)
        if done.returncode == 0 or time.monotonic() > deadline:
            return done.stdout
        time.sleep(0.1)


def _ppid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def _slirp_under(monitor_pid: int) -> list[int]:
    """slirp4netns processes descending from the container's monitor."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or (entry / "comm").read_text().strip() != "slirp4netns":
                continue
            pid = int(entry.name)
            while pid > 1 and pid != monitor_pid:
                pid = _ppid(pid)
            if pid == monitor_pid:
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            pass
    return found


@pytest.fixture
def host_server(tmp_path: Path) -> Iterator[int]:
    """A real HTTP server on the host's loopback only."""
    (tmp_path / "index.html").write_text("from the host\n")
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path), **kw)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_published_port_answers_curl_on_loopback(rb, busybox, tmp_path) -> None:
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("hello from busybox httpd\n")
    www.chmod(0o755)
    port = _free_port()
    done = rb("run", "-d", "-p", f"127.0.0.1:{port}:80", "-v", f"{www}:/www:ro", busybox,
              "httpd", "-f", "-p", "80", "-h", "/www")
    assert done.returncode == 0, done.stderr
    cid = done.stdout.strip()
    assert _curl(port) == "hello from busybox httpd\n"
    saved = record(rb.root, cid)
    assert saved["config"]["ports"] == [{"host_ip": "127.0.0.1", "host_port": port, "container_port": 80,
                                          "protocol": "tcp"}]
    slirps = _slirp_under(saved["state"]["monitor_pid"])
    assert len(slirps) == 1, "one slirp4netns, under the container's monitor"
    assert rb("rm", "-f", cid).returncode == 0
    assert not Path(f"/proc/{slirps[0]}").exists(), "slirp4netns went with the container"
    with socket.socket() as s:      # and the port is free again
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))


def test_publish_all_uses_expose_and_port_data(rb, busybox, tmp_path) -> None:
    built = rb("build", "-q", "-t", "exposer", TESTDATA / "expose")
    assert built.returncode == 0, built.stderr
    done = rb("run", "-d", "-P", "exposer")
    assert done.returncode == 0, done.stderr
    cid = done.stdout.strip()
    container = Catalog(rb.root / "containers").load(cid)
    by_port = {(b.container_port, b.protocol): b for b in container.config.ports}
    assert set(by_port) == {(80, "tcp"), (8125, "udp")}
    http_port = by_port[80, "tcp"].host_port
    assert http_port > 0 and by_port[8125, "udp"].host_port > 0
    assert _curl(http_port) == "hello from a published port\n"
    udp_port = by_port[8125, "udp"].host_port
    listed = rb("port", cid)
    assert listed.returncode == 0, listed.stderr
    assert sorted(listed.stdout.splitlines()) == sorted([f"80/tcp -> 0.0.0.0:{http_port}",
                                                         f"8125/udp -> 0.0.0.0:{udp_port}"])
    assert rb("port", cid, "80").stdout == f"0.0.0.0:{http_port}\n"
    assert rb("port", cid, "8125/udp").stdout == f"0.0.0.0:{udp_port}\n"
    assert port_lines(container.config.ports, "80") == [f"0.0.0.0:{http_port}"]
    assert f"0.0.0.0:{http_port}->80/tcp" in rb("ps").stdout
    inspected = json.loads(rb("inspect", cid).stdout)[0]
    assert inspected["HostConfig"]["PortBindings"]["80/tcp"] == [{"HostIp": "0.0.0.0", "HostPort": str(http_port)}]
    assert inspected["NetworkSettings"]["Ports"]["8125/udp"] == [{"HostIp": "0.0.0.0", "HostPort": str(udp_port)}]


def test_network_none_has_only_loopback(rb, busybox) -> None:
    done = rb("run", "--rm", "--network", "none", busybox, "sh", "-c", "ls /sys/class/net")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["lo"]


def test_default_network_is_its_own_with_tap0(rb, busybox) -> None:
    done = rb("run", "--rm", busybox, "sh", "-c", "ls /sys/class/net; cat /etc/resolv.conf")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[:2] == ["lo", "tap0"]
    assert "nameserver" in done.stdout


def test_host_loopback_through_slirp_alias(rb, busybox, host_server) -> None:
    url = f"http://10.0.2.2:{host_server}/index.html"
    done = rb("run", "--rm", "--network", "slirp4netns:allow_host_loopback=true", busybox,
              "wget", "-q", "-O-", url)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "from the host\n"
    # by default (podman's too) the host's loopback is out of reach
    refused = rb("run", "--rm", busybox, "nc", "-w", "3", "10.0.2.2", str(host_server))
    assert refused.returncode != 0


def test_dns_and_add_host(rb, busybox) -> None:
    done = rb("run", "--rm", "--dns", "192.0.2.53", "--add-host", "db.local:192.0.2.7", busybox,
              "sh", "-c", "cat /etc/resolv.conf /etc/hosts")
    assert done.returncode == 0, done.stderr
    assert "nameserver 192.0.2.53\n" in done.stdout
    assert "nameserver" not in done.stdout.replace("nameserver 192.0.2.53", "")
    assert "192.0.2.7\tdb.local\n" in done.stdout


@pytest.mark.parametrize("args, message", [
    (["--network", "bridge2"], "use host, none or slirp4netns"),
    (["--network", "slirp4netns:nope=1"], "unsupported option"),
    (["--network", "host", "-p", "8080:80"], "-p/-P need a network"),
    (["-p", "99999:80"], "invalid port"),
    (["--dns", "not-an-ip"], "not an IP address"),
    (["--add-host", "nohost"], "expected NAME:IP"),
])
def test_bad_network_flags_are_one_line(rb, busybox, args, message) -> None:
    done = rb("run", "--rm", *args, busybox, "true")
    assert done.returncode == 125
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
