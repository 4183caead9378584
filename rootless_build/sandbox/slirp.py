"""A network namespace of the step's own, connected through slirp4netns (podman's rootless
default on Debian 12: its passt is a 2023 snapshot and podman 4.3 cannot drive pasta).

The stepper forks the helper while it still shares the host's network namespace, makes
the new namespace, and hands the helper that namespace as an fd (SCM_RIGHTS); the helper
execs slirp4netns on /proc/self/fd/N. slirp4netns runs as the user namespace's root and
so may enter it, makes tap0 there, configures it (10.0.2.100/24, gateway 10.0.2.2, DNS
10.0.2.3) and says so on --ready-fd. Published ports are added through its API socket
(`add_hostfwd`, as podman's slirp port handler does). It dies with the stepper: its
--exit-fd is a pipe only the stepper holds, and PR_SET_PDEATHSIG backs that up.
"""

from __future__ import annotations

import json
import os
import signal
import socket
from dataclasses import dataclass, field

from rootless_build.errors import SandboxError
from rootless_build.sandbox import libc

GUEST_ADDR = "10.0.2.100"
DNS_ADDR = "10.0.2.3"
HOST_ALIAS = "10.0.2.2"
API_SOCKET = "slirp.sock"       # relative to the step's scratch dir (sun_path is 108 bytes)
READY_TIMEOUT = 10.0


@dataclass(frozen=True)
class PortForward:
    host_ip: str            # "" or "0.0.0.0": every address
    host_port: int
    container_port: int
    proto: str = "tcp"


@dataclass
class SlirpOptions:
    allow_host_loopback: bool = False
    mtu: int = 65520
    ports: list[PortForward] = field(default_factory=list)


def parse_options(text: str) -> SlirpOptions:
    """`slirp4netns:allow_host_loopback=true,mtu=1500` (podman's option names)."""
    opts = SlirpOptions()
    for item in filter(None, text.split(",")):
        key, eq, value = item.partition("=")
        if key == "allow_host_loopback" and value in ("true", "false"):
            opts.allow_host_loopback = value == "true"
        elif key == "mtu" and value.isdigit() and 68 <= int(value) <= 65521:
            opts.mtu = int(value)
        else:
            raise SandboxError(f"--network slirp4netns: unsupported option {item!r} "
                               "(allow_host_loopback=true|false, mtu=N)")
    return opts


class Slirp:
    """The helper, forked before the stepper unshares its network namespace."""

    def __init__(self, opts: SlirpOptions, scratch: str):
        self.opts, self.scratch = opts, scratch
        self.fd_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.ready_r, ready_w = os.pipe()
        exit_r, self.exit_w = os.pipe()
        self.scratch_fd = -1
        self.pid = os.fork()
        if self.pid == 0:
            try:
                self.fd_sock.close()
                os.close(self.ready_r)
                os.close(self.exit_w)
                self._exec(child_sock, ready_w, exit_r)
            finally:
                os._exit(127)
        child_sock.close()
        os.close(ready_w)
        os.close(exit_r)

    def _exec(self, sock: socket.socket, ready_w: int, exit_r: int) -> None:
        libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _, fds, _, _ = socket.recv_fds(sock, 1, 1)
        sock.close()
        if not fds:
            return
        os.chdir(self.scratch)
        log = os.open("slirp.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        keep = sorted({fds[0], ready_w, exit_r})
        for low, high in zip([2, *keep], [*keep, 1 << 16], strict=True):
            os.closerange(low + 1, high)     # the stepper's pipes must not stay open in it
        for fd in keep:
            os.set_inheritable(fd, True)
        argv = ["slirp4netns", "--configure", f"--mtu={self.opts.mtu}", "--enable-sandbox",
                "--enable-seccomp", f"--ready-fd={ready_w}", f"--exit-fd={exit_r}",
                f"--api-socket={API_SOCKET}", "--netns-type=path"]
        if not self.opts.allow_host_loopback:
            argv.append("--disable-host-loopback")
        os.execvp("slirp4netns", [*argv, f"/proc/self/fd/{fds[0]}", "tap0"])

    def hand_over(self) -> None:
        """In the new network namespace, before pid 1's pivot_root moves our root too (one
        mount namespace): the namespace to the helper, and a handle on the API's dir."""
        self.scratch_fd = os.open(self.scratch, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        netns = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            socket.send_fds(self.fd_sock, [b"n"], [netns])
        finally:
            os.close(netns)

    def connect(self) -> None:
        """Wait for tap0 to be configured, then add the published ports."""
        ready = b""
        try:
            while chunk := os.read(self.ready_r, 16):
                ready += chunk
                if b"1" in ready:
                    break
        finally:
            os.close(self.ready_r)
        if b"1" not in ready:
            raise SandboxError(f"slirp4netns did not start: {self._log_tail()}")
        if self.opts.ports:
            self._forward_ports()

    def _forward_ports(self) -> None:
        for p in self.opts.ports:
            self._add_hostfwd(p)

    def _api(self) -> socket.socket:
        """slirp4netns made its socket relative to the scratch dir (sun_path holds 108 bytes)."""
        api = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fchdir(self.scratch_fd)
            api.connect(API_SOCKET)
        except OSError:
            api.close()
            raise
        finally:
            os.fchdir(cwd)
            os.close(cwd)
        return api

    def _add_hostfwd(self, p: PortForward) -> None:
        # one request per connection: slirp4netns answers and closes
        with self._api() as api:
            request = {"execute": "add_hostfwd",
                       "arguments": {"proto": p.proto, "host_addr": p.host_ip or "0.0.0.0",
                                     "host_port": p.host_port, "guest_addr": GUEST_ADDR,
                                     "guest_port": p.container_port}}
            api.sendall(json.dumps(request).encode())
            api.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := api.recv(4096):
                answer += chunk
        try:
            reply = json.loads(answer or b"{}")
        except ValueError:
            reply = {}
        if "return" not in reply:
            why = (reply.get("error") or {}).get("desc") or answer.decode(errors="replace") or "no answer"
            raise SandboxError(f"cannot publish {p.host_ip or '0.0.0.0'}:{p.host_port} -> "
                               f"{p.container_port}/{p.proto}: {why}")

    def _log_tail(self) -> str:
        try:
            with open(os.open("slirp.log", os.O_RDONLY | os.O_CLOEXEC, dir_fd=self.scratch_fd), "rb") as f:
                lines = f.read()[-2000:].decode(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return lines[-1] if lines else "it exited without a word"

    def stop(self) -> None:
        """Closing --exit-fd ends it (and the socket: a helper still waiting for the
        namespace reads EOF and exits); reap it."""
        self.fd_sock.close()
        for fd in (self.exit_w, self.scratch_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
