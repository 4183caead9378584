"""`--ssh default|ID=SOCKET|ID=KEYFILE[,KEYFILE...]`: the ssh-agent sockets RUN steps may reach
through `--mount=type=ssh[,id=ID]`.

A socket is used as it is (`default` is $SSH_AUTH_SOCK); key files are loaded into a private
`ssh-agent` started for this build and stopped after it (keys never enter the build: a
step only talks to the agent). The chosen sockets are put in RB_SSH_SOCKETS so that the
build, re-executed in the user namespace, reuses them instead of starting agents again.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time

from rootless_build.errors import UsageError

SOCKETS_ENV = "RB_SSH_SOCKETS"
_AGENT_WAIT = 5.0


class SshAgents:
    """{id: socket path}, and the agents this process started (stopped by close())."""

    def __init__(self) -> None:
        self.sockets: dict[str, str] = {}
        self._agents: list[tuple[subprocess.Popen, str]] = []

    def close(self) -> None:
        for process, directory in self._agents:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            shutil.rmtree(directory, ignore_errors=True)
        self._agents.clear()

    def add(self, spec: str) -> None:
        ssh_id, has_paths, paths = spec.partition("=")
        if not ssh_id:
            raise UsageError(f"invalid --ssh {spec!r}: expected default, ID=SOCKET or ID=KEYFILE")
        if ssh_id in self.sockets:
            raise UsageError(f"--ssh {ssh_id} given twice")
        if not has_paths:
            agent = os.environ.get("SSH_AUTH_SOCK")
            if not agent:
                raise UsageError(f"--ssh {ssh_id}: SSH_AUTH_SOCK is not set (name a socket or key file)")
            self.sockets[ssh_id] = self._socket(agent, spec)
            return
        files = [os.path.abspath(os.path.expanduser(p)) for p in paths.split(",") if p]
        if len(files) == 1 and _is_socket(files[0]):
            self.sockets[ssh_id] = files[0]
            return
        for path in files:
            if not os.path.isfile(path) or not os.access(path, os.R_OK):
                raise UsageError(f"--ssh {spec!r}: {path} is neither a socket nor a readable key file")
        self.sockets[ssh_id] = self._agent_with(files, spec)

    @staticmethod
    def _socket(path: str, spec: str) -> str:
        if not _is_socket(path):
            raise UsageError(f"--ssh {spec!r}: {path} is not a socket")
        return os.path.abspath(path)

    def _agent_with(self, keys: list[str], spec: str) -> str:
        if shutil.which("ssh-agent") is None or shutil.which("ssh-add") is None:
            raise UsageError(f"--ssh {spec!r}: ssh-agent and ssh-add are needed to load a key file "
                             "(install openssh-client)")
        directory = tempfile.mkdtemp(prefix="rb-ssh-")  # short: a socket path holds < 108 bytes
        socket = os.path.join(directory, "agent")
        process = subprocess.Popen(["ssh-agent", "-D", "-a", socket], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self._agents.append((process, directory))
        deadline = time.monotonic() + _AGENT_WAIT
        while not _is_socket(socket):
            if process.poll() is not None or time.monotonic() > deadline:
                why = process.stderr.read().strip() if process.poll() is not None and process.stderr else ""
                raise UsageError(f"--ssh {spec!r}: ssh-agent did not start" + (f": {why}" if why else ""))
            time.sleep(0.01)
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "SSH_ASKPASS")}
        env.update(SSH_AUTH_SOCK=socket, SSH_ASKPASS_REQUIRE="never")
        done = subprocess.run(["ssh-add", "-q", *keys], env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, check=False, timeout=30)
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or ["ssh-add failed"])[-1]
            raise UsageError(f"--ssh {spec!r}: cannot load the key: {reason} (a key with a passphrase "
                             "needs an agent: pass its socket)")
        return socket


def _is_socket(path: str) -> bool:
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


def ssh_agents(specs: tuple[str, ...] | list[str]) -> SshAgents:
    """The sockets for these --ssh flags (those found by a parent process if it left them)."""
    agents = SshAgents()
    inherited = os.environ.get(SOCKETS_ENV)
    if inherited:
        agents.sockets = dict(json.loads(inherited))
        return agents
    try:
        for spec in specs:
            agents.add(spec)
    except BaseException:
        agents.close()
        raise
    if agents.sockets:
        os.environ[SOCKETS_ENV] = json.dumps(agents.sockets)
    return agents
