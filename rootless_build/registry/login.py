"""login and logout: check credentials against the registry, then keep or forget them in
the auth file podman and skopeo read."""

from __future__ import annotations

from pathlib import Path

from rootless_build.errors import UsageError
from rootless_build.registry import conf as registries_conf
from rootless_build.registry import credentials
from rootless_build.registry.errors import RegistryAuthError
from rootless_build.registry.options import RegistryOptions
from rootless_build.registry.transport import Transport


def registry_host(text: str) -> str:
    """'https://host:5000/v2/' or 'host:5000/some/repo' -> 'host:5000' ('docker.io' for hub)."""
    text = text.strip()
    for scheme in ("https://", "http://"):
        if text.startswith(scheme):
            text = text[len(scheme):]
    host = text.split("/", 1)[0]
    if not host:
        raise UsageError("a registry name is required")
    if host in ("index.docker.io", "registry-1.docker.io"):
        host = "docker.io"
    return host


def login(registry: str, username: str, password: str, *, options: RegistryOptions | None = None,
          conf: registries_conf.RegistriesConf | None = None) -> Path:
    """Verify the credentials with the registry, then store them; the auth file's path."""
    host = registry_host(registry)
    if not username:
        raise UsageError("a username is required")
    if not password:
        raise UsageError("a password is required")
    conf = conf if conf is not None else registries_conf.load()
    base = options or RegistryOptions()
    checking = RegistryOptions(base.tls_verify, base.cert_dir, base.authfile, (username, password))
    transport = Transport(host, insecure=conf.insecure(host), options=checking)
    what = f"logging in to {host}"
    try:
        transport.request("GET", "/v2/", what=what)
    except RegistryAuthError as e:
        raise RegistryAuthError(f"{what}: invalid username/password", code=e.code, status=e.status) from None
    return credentials.save(host, username, password, base)


def logout(registry: str | None, *, options: RegistryOptions | None = None, everything: bool = False) -> str:
    """Forget the credentials for one registry (or all); a line to show."""
    if everything:
        credentials.remove_all(options)
        return "Removed login credentials for all registries"
    if not registry:
        raise UsageError("a registry name is required (or --all)")
    host = registry_host(registry)
    if not credentials.remove(host, options):
        raise UsageError(f"not logged into {host}")
    return f"Removed login credentials for {host}"
