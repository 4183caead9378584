"""TLS trust per registry: system CAs plus certs.d directories (containers-certs.d(5)),
or the one directory given with --cert-dir."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

from rootless_build.errors import UsageError


def cert_dirs(host: str, cert_dir: str | None) -> list[Path]:
    """Where CA and client certificates for `host` ("name:port") may live, most specific first."""
    if cert_dir:
        path = Path(cert_dir)
        if not path.is_dir():
            raise UsageError(f"--cert-dir {cert_dir}: not a directory")
        return [path]
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    bases = [Path(config_home) / "containers" / "certs.d",
             Path("/etc/containers/certs.d"), Path("/etc/docker/certs.d")]
    return [base / host for base in bases if (base / host).is_dir()]


def ssl_context(dirs: list[Path]) -> tuple[ssl.SSLContext | None, tuple[str, str] | None]:
    """A context trusting the system CAs plus every *.crt found, and a client cert pair."""
    cas = sorted(p for d in dirs for p in d.glob("*.crt"))
    client = None
    for d in dirs:
        for cert in sorted(d.glob("*.cert")):
            key = cert.with_suffix(".key")
            if not key.is_file():
                raise UsageError(f"client certificate {cert} has no matching {key.name}")
            client = (str(cert), str(key))
            break
        if client:
            break
    if not cas:
        return None, client
    ctx = ssl.create_default_context()
    for ca in cas:
        try:
            ctx.load_verify_locations(cafile=str(ca))
        except (ssl.SSLError, OSError) as e:
            raise UsageError(f"cannot load CA certificate {ca}: {e}") from None
    return ctx, client


class ContextAdapter(HTTPAdapter):
    """An HTTPAdapter whose verified connections use our SSLContext (extra CAs)."""

    def __init__(self, context: ssl.SSLContext | None, **kwargs):
        self._context = context
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        if self._context is not None:
            kwargs["ssl_context"] = self._context
        return super().init_poolmanager(*args, **kwargs)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if self._context is not None and verify is True:
            pool_kwargs["ssl_context"] = self._context
        return host_params, pool_kwargs


class RegistrySession(requests.Session):
    """A Session whose `verify` is ours: requests would let REQUESTS_CA_BUNDLE or
    CURL_CA_BUNDLE replace it, silently undoing --tls-verify=false and --cert-dir."""

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        settings["verify"] = self.verify if verify is None else verify
        return settings
