"""docker's rules for ENTRYPOINT/CMD/ENV/WORKDIR/USER under run's flags."""

from __future__ import annotations

import pytest

from rootless_build.containers.runconfig import (
    DEFAULT_PATH,
    RunOptions,
    process_env,
    read_env_file,
    resolve,
)
from rootless_build.errors import UsageError

CID = "0123456789ab" + "c" * 52


def _image(**fields) -> dict:
    return fields


@pytest.mark.parametrize("image, opts, argv", [
    (dict(Cmd=["sh"]), RunOptions(), ["sh"]),
    (dict(Cmd=["sh"]), RunOptions(command=["ls", "/"]), ["ls", "/"]),
    (dict(Entrypoint=["/init"], Cmd=["--serve"]), RunOptions(), ["/init", "--serve"]),
    (dict(Entrypoint=["/init"], Cmd=["--serve"]), RunOptions(command=["-x"]), ["/init", "-x"]),
    (dict(Entrypoint=["/init"], Cmd=["--serve"]), RunOptions(entrypoint="echo"), ["echo"]),
    (dict(Entrypoint=["/init"], Cmd=["--serve"]), RunOptions(entrypoint="echo", command=["hi"]), ["echo", "hi"]),
    (dict(Entrypoint=["/init"], Cmd=["--serve"]), RunOptions(entrypoint="", command=["ls"]), ["ls"]),
    (dict(Cmd=["sh"]), RunOptions(entrypoint='["sh", "-c"]', command=["echo x"]), ["sh", "-c", "echo x"]),
], ids=["cmd", "args-replace-cmd", "entrypoint+cmd", "args-replace-cmd-only", "entrypoint-flag-drops-cmd",
        "entrypoint-flag+args", "empty-entrypoint-clears", "json-entrypoint"])
def test_command(image, opts, argv) -> None:
    assert resolve(_image(**image), opts, CID).argv == argv


def test_no_command_at_all_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no command specified"):
        resolve(_image(), RunOptions(), CID)


def test_environment_layers(tmp_path, monkeypatch) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("# comment\n\nFROM_FILE=1\nSHARED=file\nHOST_ONLY\n")
    monkeypatch.setenv("HOST_ONLY", "from-host")
    monkeypatch.delenv("UNSET_ON_HOST", raising=False)
    cfg = resolve(_image(Env=["PATH=/bin", "SHARED=image", "KEEP=1"], Cmd=["sh"]),
                  RunOptions(env=["SHARED=flag", "UNSET_ON_HOST", "NEW=x=y"], env_files=[str(env_file)],
                             tty=True), CID)
    assert cfg.env == ["PATH=/bin", "SHARED=flag", "KEEP=1", "FROM_FILE=1", "HOST_ONLY=from-host", "NEW=x=y"]
    env = process_env(cfg)
    assert "HOSTNAME=0123456789ab" in env and "TERM=xterm" in env and "PATH=/bin" in env
    assert "PATH=" + DEFAULT_PATH in process_env(resolve(_image(Cmd=["sh"]), RunOptions(), CID))


def test_env_file_rejects_blank_in_names(tmp_path) -> None:
    bad = tmp_path / "bad"
    bad.write_text("A B=1\n")
    with pytest.raises(UsageError, match="contains whitespaces"):
        read_env_file(str(bad))


def test_workdir_user_hostname_and_stop_signal() -> None:
    image = _image(Cmd=["sh"], WorkingDir="/srv", User="app", StopSignal="SIGQUIT")
    cfg = resolve(image, RunOptions(), CID)
    assert (cfg.working_dir, cfg.user, cfg.hostname, cfg.stop_signal) == ("/srv", "app", CID[:12], "SIGQUIT")
    cfg = resolve(image, RunOptions(workdir="/tmp", user="0:0", hostname="box"), CID)
    assert (cfg.working_dir, cfg.user, cfg.hostname) == ("/tmp", "0:0", "box")
    with pytest.raises(UsageError, match="absolute path"):
        resolve(image, RunOptions(workdir="rel"), CID)
    with pytest.raises(UsageError, match="use host, none or slirp4netns"):
        resolve(image, RunOptions(network="bridge"), CID)


def test_publish_parsing_and_port_lines() -> None:
    from rootless_build.containers.network import parse_publish, port_lines, port_map, publish

    b = parse_publish("127.0.0.1:8080:80/udp")
    assert (b.host_ip, b.host_port, b.container_port, b.protocol) == ("127.0.0.1", 8080, 80, "udp")
    b = parse_publish("[::1]:8443:443")
    assert (b.host_ip, b.host_port, b.container_port) == ("::1", 8443, 443)
    assert parse_publish("80").host_port == 0 and parse_publish(":80").host_port == 0
    for bad in ("0:80", "a:80", "1:2:3:4", "80/sctp", "nothost:80:80"):
        with pytest.raises(UsageError):
            parse_publish(bad)
    chosen = publish(["9999:80"], True, {"ExposedPorts": {"80/tcp": {}, "53/udp": {}}})
    assert [(p.container_port, p.protocol) for p in chosen] == [(80, "tcp"), (53, "udp")]
    assert chosen[0].host_port == 9999 and chosen[1].host_port > 0   # -P skips what -p gave
    with pytest.raises(UsageError, match="published twice"):
        publish(["8080:80", "8080:81"], False, {})
    assert port_map(chosen[:1]) == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "9999"}]}
    assert port_lines(chosen) == ["80/tcp -> 0.0.0.0:9999", f"53/udp -> 0.0.0.0:{chosen[1].host_port}"]
    assert port_lines(chosen, "53/udp") == [f"0.0.0.0:{chosen[1].host_port}"]


def test_resolv_conf_for_slirp_and_dns() -> None:
    from rootless_build.sandbox.stepio import resolv_conf

    host = "search example.org\nnameserver 127.0.0.53\noptions edns0\n"
    assert resolv_conf(host, [], slirp=True) == "search example.org\noptions edns0\nnameserver 10.0.2.3\n"
    assert resolv_conf(host, [], slirp=False) == "search example.org\noptions edns0\nnameserver 127.0.0.53\n"
    assert resolv_conf(host, ["1.1.1.1"], slirp=True).endswith("nameserver 1.1.1.1\n")
    assert "10.0.2.3" not in resolv_conf("nameserver 192.0.2.1\n", [], slirp=True)
