"""`inspect` of a container in docker's shape (docker's keys, in docker's order)."""

from __future__ import annotations

from rootless_build.containers.catalog import Catalog
from rootless_build.containers.network import port_map
from rootless_build.containers.record import EXITED, RUNNING, Container

ZERO_TIME = "0001-01-01T00:00:00Z"


def inspect_doc(catalog: Catalog, c: Container) -> dict:
    cfg, s = c.config, c.state
    running = s.status == RUNNING
    return {
        "Id": c.id,
        "Created": c.created,
        "Path": cfg.argv[0] if cfg.argv else "",
        "Args": list(cfg.argv[1:]),
        "State": {
            "Status": s.status,
            "Running": running,
            "Paused": False,
            "Restarting": False,
            "OOMKilled": False,
            "Dead": False,
            "Pid": s.pid if running else 0,
            "ExitCode": s.exit_code if s.status == EXITED and s.exit_code is not None else 0,
            "Error": s.error,
            "StartedAt": s.started_at or ZERO_TIME,
            "FinishedAt": s.finished_at or ZERO_TIME,
        },
        "Image": c.image_id,
        "ResolvConfPath": "",
        "HostnamePath": "",
        "HostsPath": "",
        "LogPath": str(catalog.log_path(c.id)),
        "Name": "/" + c.name,
        "RestartCount": s.restart_count,
        "Driver": c.driver or "overlay",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": _host_config(c),
        "GraphDriver": {"Data": {"UpperDir": str(catalog.upper_dir(c.id)), "WorkDir": str(catalog.work_dir(c.id))},
                        "Name": c.driver or "overlay"},
        "Mounts": [_mount(m) for m in cfg.mounts if m.type != "tmpfs"],
        "Config": {
            "Hostname": cfg.hostname,
            "Domainname": "",
            "User": cfg.user,
            "AttachStdin": cfg.open_stdin,
            "AttachStdout": not cfg.detach,
            "AttachStderr": not cfg.detach,
            "Tty": cfg.tty,
            "OpenStdin": cfg.open_stdin,
            "StdinOnce": cfg.stdin_once,
            "Env": list(cfg.env),
            "Cmd": list(cfg.cmd) or None,
            "Image": c.image,
            "Volumes": {m.destination: {} for m in cfg.mounts if m.type == "volume" and m.anonymous} or None,
            "WorkingDir": "" if cfg.working_dir == "/" else cfg.working_dir,
            "Entrypoint": list(cfg.entrypoint) or None,
            "OnBuild": None,
            "Labels": dict(cfg.labels),
            # docker shows these only when the image or a flag set them
            **({"StopSignal": cfg.stop_signal} if cfg.stop_signal != "SIGTERM" else {}),
            **({"StopTimeout": cfg.stop_timeout} if cfg.stop_timeout != 10 else {}),
        },
        "NetworkSettings": _network_settings(c),
    }


def _host_config(c: Container) -> dict:
    cfg = c.config
    out: dict[str, object] = {
        "Binds": [f"{m.name or m.source}:{m.destination}{':ro' if m.readonly else ''}"
                  for m in cfg.mounts if m.type != "tmpfs"] or None,
        "ContainerIDFile": cfg.cidfile,
        "LogConfig": {"Type": "k8s-file", "Config": {}},
        "NetworkMode": cfg.network,
        "PortBindings": port_map(cfg.ports),
        "RestartPolicy": {"Name": cfg.restart_policy, "MaximumRetryCount": cfg.restart_max},
        "AutoRemove": cfg.auto_remove,
        "VolumeDriver": "",
        "VolumesFrom": None,
        "CapAdd": None,
        "CapDrop": None,
        "Dns": list(cfg.dns),
        "DnsOptions": [],
        "DnsSearch": [],
        "ExtraHosts": list(cfg.extra_hosts) or None,
        "GroupAdd": None,
        "IpcMode": "private",
        "Links": None,
        "PidMode": "",
        "Privileged": False,
        "PublishAllPorts": False,
        "ReadonlyRootfs": cfg.read_only,
        "SecurityOpt": None,
        "UTSMode": "",
        "UsernsMode": "",
        "Runtime": "rootless-build",
        "Devices": [{"PathOnHost": d.path_on_host, "PathInContainer": d.path_in_container,
                     "CgroupPermissions": d.permissions} for d in cfg.devices],
        "Init": False,
    }
    tmpfs = {m.destination: ",".join(m.options) for m in cfg.mounts if m.type == "tmpfs"}
    if tmpfs:       # docker leaves the key out when there is none
        out["Tmpfs"] = tmpfs
    return out


def _network_settings(c: Container) -> dict:
    return {
        "Bridge": "",
        "SandboxID": "",
        "SandboxKey": "",
        "Ports": port_map(c.config.ports) if c.state.status == RUNNING else {},
        "HairpinMode": False,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None,
        "EndpointID": "",
        "Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPAddress": "",
        "IPPrefixLen": 0,
        "IPv6Gateway": "",
        "MacAddress": "",
        "Networks": {c.config.network: {}} if c.config.network not in ("", "none") else {},
    }


def _mount(m) -> dict:
    """docker's shape of a bind or volume mount."""
    out = {"Type": m.type, "Source": m.source, "Destination": m.destination,
           "Mode": m.mode, "RW": not m.readonly, "Propagation": "rprivate"}
    if m.type == "volume":
        out = {"Type": "volume", "Name": m.name, **{k: v for k, v in out.items() if k != "Type"},
               "Driver": "local", "Propagation": ""}
    return out
