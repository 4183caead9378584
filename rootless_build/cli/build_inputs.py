"""`build`'s inputs beyond the options BuildOptions takes as they are: the context when it
is not a local directory, --build-context, --secret, --ssh and the RUN/cache flags, each
checked where it enters. BuildInputs owns what it received or started (temp dirs, ssh
agents) and lets it go when the command ends."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from rootless_build.errors import UsageError

if TYPE_CHECKING:
    from rootless_build.builder.received import ReceivedContext
    from rootless_build.builder.sshagents import SshAgents

URL_PREFIXES = ("http://", "https://", "git://", "git@", "ssh://")


def pairs(values: tuple[str, ...], flag: str, *, from_env: bool) -> dict[str, str]:
    """KEY=VALUE flags; `KEY` alone takes the environment's value (from_env) or "" ."""
    out: dict[str, str] = {}
    for item in values:
        key, has_value, value = item.partition("=")
        if not key:
            raise UsageError(f"invalid {flag} {item!r}: expected KEY=VALUE")
        if not has_value:
            if not from_env:
                value = ""
            elif key in os.environ:
                value = os.environ[key]
            else:
                continue  # docker: `--build-arg K` with K unset passes nothing
        out[key] = value
    return out


class BuildInputs:
    def __init__(self) -> None:
        self._received: list[ReceivedContext] = []
        self._agents: SshAgents | None = None

    def __enter__(self) -> BuildInputs:
        return self

    def __exit__(self, *_exc) -> None:
        if self._agents is not None:
            self._agents.close()
        for item in self._received:
            item.remove()

    def main_context(self, context: str, dockerfile: str | None) -> tuple[str, str | None]:
        """(context directory, Dockerfile) for `-` and URLs; a local directory as it is."""
        if context != "-" and not context.startswith(URL_PREFIXES):
            return context, dockerfile
        if context == "-" and dockerfile == "-":
            raise UsageError("the build context and the Dockerfile cannot both come from stdin")
        from rootless_build.builder.received import received_context

        received = received_context(context, sys.stdin.buffer)
        self._received.append(received)
        if received.dockerfile is not None:
            return str(received.context), str(received.dockerfile)
        if dockerfile and dockerfile != "-" and not os.path.isabs(dockerfile):  # -f names a file in it
            dockerfile = os.path.join(received.context, dockerfile)
        return str(received.context), dockerfile

    def fields(self, secrets, ssh, build_contexts, **run_flags) -> dict:
        """BuildOptions fields from the flags."""
        files, envs = _secrets(secrets)
        sockets: dict[str, str] = {}
        if ssh:
            from rootless_build.builder.sshagents import ssh_agents

            self._agents = ssh_agents(ssh)
            sockets = self._agents.sockets
        return {"secrets": files, "secret_envs": envs, "ssh": sockets,
                "build_contexts": self._contexts(build_contexts), **_run_flags(**run_flags)}

    def _contexts(self, specs) -> dict[str, tuple[str, str]]:
        """--build-context NAME=VALUE -> {name: ("image", REF) or ("dir", PATH)}; URLs received."""
        out: dict[str, tuple[str, str]] = {}
        urls: dict[str, str] = {}
        for spec in specs:
            name, sep, value = spec.partition("=")
            name = name.strip().lower()
            if not sep or not name or not value:
                raise UsageError(f"invalid --build-context {spec!r}: expected NAME=DIR|docker-image://REF|URL")
            if name in out or name in urls:
                raise UsageError(f"--build-context {name} given twice")
            if value.startswith("docker-image://"):
                out[name] = ("image", value.removeprefix("docker-image://"))
            elif value.startswith(URL_PREFIXES):
                urls[name] = value
            elif os.path.isdir(value):
                out[name] = ("dir", os.path.abspath(value))
            else:
                raise UsageError(f"--build-context {spec}: {value} is not a directory, a docker-image:// "
                                 "reference or a URL")
        if urls:
            from rootless_build.builder.received import named_contexts

            directories, received = named_contexts(urls)
            self._received.extend(received)
            out.update({name: ("dir", path) for name, path in directories.items()})
        return out


def _secrets(values: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
    """--secret id=ID[,src=FILE|,env=VAR][,type=file|env] -> ({id: file}, {id: env var}).

    As buildx: type=env reads the variable named by env= (or src=, or the id); without
    src= and env= the id names a file. Only the variable's name is kept: its value is read
    when a RUN mounts the secret, so it never lands in the options, the cache or history."""
    files: dict[str, str] = {}
    envs: dict[str, str] = {}
    for item in values:
        fields = dict(part.partition("=")[::2] for part in item.split(","))
        secret_id = fields.get("id")
        kind = fields.get("type", "env" if fields.get("env") else "file")
        source = fields.get("src") or fields.get("source")
        if not secret_id:
            raise UsageError(f"invalid --secret {item!r}: expected id=ID,src=FILE or id=ID,env=VAR")
        if kind not in ("file", "env") or unknown_keys(fields):
            raise UsageError(f"invalid --secret {item!r}: keys are id, type (file or env), src, env")
        if kind == "env":
            variable = fields.get("env") or source or secret_id
            if variable not in os.environ:
                raise UsageError(f"--secret {item!r}: environment variable {variable} is not set")
            envs[secret_id] = variable
        else:
            files[secret_id] = os.path.abspath(source or secret_id)
    return files, envs


def unknown_keys(fields: dict[str, str]) -> set[str]:
    return set(fields) - {"id", "type", "src", "source", "env"}


def _run_flags(add_hosts, shm_size, ulimits, cap_add, cap_drop, ignorefile, cache_ttl, no_cache_filter,
               image_env) -> dict:
    """The RUN-shaping and cache flags, checked, as BuildOptions fields (their parsers load
    only when a flag is given: every build comes through here)."""
    fields: dict = {"image_env": pairs(image_env, "--env", from_env=True),
                    "no_cache_stages": [s.strip().lower() for v in no_cache_filter for s in v.split(",") if s.strip()]}
    if cache_ttl is not None:
        from rootless_build.dockerfile.durations import DurationError, parse_duration

        try:
            fields["cache_ttl_ns"] = parse_duration(cache_ttl)
        except DurationError as e:
            raise UsageError(f"invalid --cache-ttl {cache_ttl!r}: {e}") from None
    if ignorefile is not None:
        if not os.path.isfile(ignorefile):
            raise UsageError(f"--ignorefile {ignorefile}: no such file")
        fields["ignorefile"] = os.path.abspath(ignorefile)
    if add_hosts or shm_size or ulimits or cap_add or cap_drop:
        fields.update(_sandbox_flags(add_hosts, shm_size, ulimits, cap_add, cap_drop))
    return fields


def _sandbox_flags(add_hosts, shm_size, ulimits, cap_add, cap_drop) -> dict:
    from rootless_build.builder import runoptions as ro
    from rootless_build.sandbox.hardening import resolve_caps

    caps = {flag: [ro.parse_capability(c, flag) for c in values]
            for flag, values in (("--cap-add", cap_add), ("--cap-drop", cap_drop))}
    resolve_caps(caps["--cap-add"], caps["--cap-drop"])   # unknown names: one line
    limits = [ro.parse_ulimit(u) for u in ulimits]
    return {"add_hosts": [ro.parse_add_host(h) for h in add_hosts],
            "shm_size": ro.parse_size(shm_size, "--shm-size") if shm_size else None,
            "ulimits": [(ro.ULIMITS[name], soft, hard) for name, soft, hard in limits],
            "cap_add": caps["--cap-add"], "cap_drop": caps["--cap-drop"]}


