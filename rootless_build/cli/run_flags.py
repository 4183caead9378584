"""The flags `run` and `create` share (docker's container options), and a container made
from them."""

from __future__ import annotations

import os

import click

from rootless_build.cli.common import open_store
from rootless_build.errors import UsageError

_RUN_FLAGS = [
    click.option("-i", "--interactive", is_flag=True, help="Keep stdin open and connected."),
    click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-terminal."),
    click.option("--rm", "auto_remove", is_flag=True, help="Remove the container when it exits."),
    click.option("--name", help="Name the container (default: generated)."),
    click.option("-e", "--env", multiple=True, help="Set an environment variable (NAME=VALUE or NAME)."),
    click.option("--env-file", multiple=True, help="Read environment variables from a file."),
    click.option("-v", "--volume", multiple=True,
                 help="Mount [HOST-DIR|VOLUME:]CONTAINER-DIR[:ro] (a new volume is filled from the image)."),
    click.option("--mount", "mount", multiple=True,
                 help="type=bind|volume|tmpfs,source=,target=[,readonly][,volume-opt=][,tmpfs-size=]..."),
    click.option("--tmpfs", multiple=True, help="Mount a tmpfs: /PATH[:size=N,mode=M,exec,...]."),
    click.option("--read-only", is_flag=True, help="Mount the container's root file system read-only."),
    click.option("--device", multiple=True, help="Bind a host device in: HOST[:CONTAINER][:rwm]."),
    click.option("-w", "--workdir", help="Working directory inside the container."),
    click.option("-u", "--user", help="User name or uid[:gid] inside the container."),
    click.option("--entrypoint", help="Override the image's ENTRYPOINT."),
    click.option("--network", "--net", default="slirp4netns", show_default=True,
                 help="slirp4netns[:allow_host_loopback=true,mtu=N] (a namespace of its own), host or none."),
    click.option("-p", "--publish", multiple=True, help="Publish a port: [IP:][HOST:]CTR[/tcp|udp]."),
    click.option("-P", "--publish-all", is_flag=True, help="Publish every EXPOSEd port to a free host port."),
    click.option("--dns", multiple=True, help="A nameserver for the container's /etc/resolv.conf."),
    click.option("--add-host", multiple=True, help="Add NAME:IP to the container's /etc/hosts."),
    click.option("--restart", default="no", show_default=True,
                 help="Restart policy: no, on-failure[:N], always, unless-stopped."),
    click.option("--hostname", help="Container host name (default: the short ID)."),
    click.option("--stop-timeout", type=int, help="Seconds `stop` waits before SIGKILL (default 10)."),
    click.option("-l", "--label", "labels", multiple=True, help="Set a label (KEY=VALUE)."),
    click.option("--cidfile", help="Write the container ID to this file (which must not exist)."),
    click.option("--detach-keys", default="", help="Keys that detach (default ctrl-p,ctrl-q)."),
    click.option("--cap-add", multiple=True, help="Add a Linux capability (or ALL)."),
    click.option("--cap-drop", multiple=True, help="Drop a Linux capability (or ALL)."),
    click.option("--privileged", is_flag=True, help="Every capability, no seccomp filter, no masked paths."),
    click.option("--security-opt", multiple=True,
                 help="seccomp=unconfined|PROFILE.json, no-new-privileges[=true|false]."),
    click.option("--init", "init", is_flag=True, help="Run an init (catatonit) as pid 1: it forwards "
                 "signals and reaps zombies."),
]


def run_flags(command):
    """The flags `run` and `create` share (docker's container options)."""
    for option in reversed(_RUN_FLAGS):
        command = option(command)
    return command


def create_from_flags(ctx, flags: dict, image: str, command: tuple, *, detach: bool):
    """A new container in the Created state from run/create's flags: (store, catalog, container)."""
    from rootless_build.containers import detachkeys, lifecycle
    from rootless_build.containers.runconfig import RunOptions

    if flags["tty"] and flags["interactive"] and not detach and not os.isatty(0):
        raise UsageError("the input device is not a TTY")
    detachkeys.parse(flags["detach_keys"])
    cidfile = flags["cidfile"]
    if cidfile and os.path.exists(cidfile):
        raise UsageError(f"container ID file found, make sure the other container isn't running "
                         f"or delete {cidfile}")
    from rootless_build.containers.catalog import Catalog

    store = open_store(ctx)
    catalog = Catalog(store.containers_dir)
    opts = RunOptions(command=list(command), entrypoint=flags["entrypoint"], env=list(flags["env"]),
                      env_files=list(flags["env_file"]), volumes=list(flags["volume"]), mounts=list(flags["mount"]),
                      tmpfs=list(flags["tmpfs"]), devices=list(flags["device"]), read_only=flags["read_only"],
                      workdir=flags["workdir"],
                      user=flags["user"], hostname=flags["hostname"], network=flags["network"], tty=flags["tty"],
                      interactive=flags["interactive"], detach=detach, auto_remove=flags["auto_remove"],
                      stop_timeout=flags["stop_timeout"], labels=list(flags["labels"]),
                      detach_keys=flags["detach_keys"], cidfile=os.path.abspath(cidfile) if cidfile else "",
                      cap_add=list(flags["cap_add"]), cap_drop=list(flags["cap_drop"]),
                      privileged=flags["privileged"], security_opt=list(flags["security_opt"]), init=flags["init"],
                      console_size=_terminal_size() if flags["tty"] else [], publish=list(flags["publish"]),
                      publish_all=flags["publish_all"], dns=list(flags["dns"]), add_hosts=list(flags["add_host"]),
                      restart=flags["restart"])
    container = lifecycle.create(store, catalog, image, opts, name=flags["name"], driver=None)
    if any("w" not in d.permissions or "r" not in d.permissions for d in container.config.devices):
        click.echo("warning: --device permissions (r, w, m) are not enforced rootless (no device cgroup): "
                   "a device is bound in as the host lets this user open it", err=True)
    if cidfile:
        _write_cidfile(catalog, container, cidfile)
    return store, catalog, container


def _terminal_size() -> list[int]:
    """The local terminal's rows and cols: a `run -t` pty starts with them, as docker's."""
    from rootless_build.containers.terminal import window_size

    size = window_size(0) or window_size(1)
    return list(size) if size else []


def _write_cidfile(catalog, container, path: str) -> None:
    from rootless_build.containers import lifecycle

    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except OSError as e:
        lifecycle.remove(catalog, container, force=True, with_volumes=True)
        raise UsageError(f"failed to create the container ID file {path}: {e.strerror}") from None
    with os.fdopen(fd, "w") as f:
        f.write(container.id)
