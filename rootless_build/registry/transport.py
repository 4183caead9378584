"""HTTP to one registry host: scheme choice (TLS first; plain HTTP only for loopback,
`insecure` registries or --tls-verify=false), the auth flow, and retries with backoff."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Iterable

import requests

from rootless_build.errors import RegistryError
from rootless_build.registry import credentials
from rootless_build.registry.auth import RegistryAuth
from rootless_build.registry.errors import from_exception, from_response
from rootless_build.registry.limits import MAX_JSON, read_limited, read_prefix
from rootless_build.registry.options import RegistryOptions
from rootless_build.registry.retry import Backoff, default_backoff
from rootless_build.registry.tls import ContextAdapter, RegistrySession, cert_dirs, ssl_context

TIMEOUT = (30, 120)  # connect, read (seconds between two reads, not for the whole body)
POOL_SIZE = 16


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class Transport:
    def __init__(self, host: str, *, insecure: bool = False, options: RegistryOptions | None = None,
                 backoff: Backoff | None = None):
        self.host = host
        self.options = options or RegistryOptions()
        self.api_host = "registry-1.docker.io" if host == "docker.io" else host
        tls_verify = self.options.tls_verify
        self.skip_verify = tls_verify is False or (insecure and tls_verify is None)
        self.plain_http_allowed = tls_verify is not True and (insecure or is_loopback(host) or tls_verify is False)
        self.backoff = backoff or default_backoff()
        if self.skip_verify:  # the user asked for it (--tls-verify=false, insecure): no nagging
            import urllib3

            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self.session = RegistrySession()
        context, client_cert = (None, None) if self.skip_verify else ssl_context(cert_dirs(host, self.options.cert_dir))
        adapter = ContextAdapter(context, pool_connections=4, pool_maxsize=POOL_SIZE)
        self.session.mount("https://", adapter)
        self.session.mount("http://", ContextAdapter(None, pool_connections=4, pool_maxsize=POOL_SIZE))
        self.session.verify = not self.skip_verify
        if client_cert:
            self.session.cert = client_cert
        self.session.headers["User-Agent"] = "rootless-build"
        token_session = RegistrySession()
        token_session.verify = not self.skip_verify
        token_session.mount("https://", ContextAdapter(context))
        if client_cert:
            token_session.cert = client_cert
        self.auth = RegistryAuth(host, lambda: credentials.lookup(host, "", self.options),
                                 token_session, verify=not self.skip_verify)
        self.session.auth = self.auth
        self._base: str | None = None
        self._lock = threading.Lock()

    # -- where ----------------------------------------------------------------------

    @property
    def base(self) -> str:
        """'https://host' or 'http://host', decided once by pinging /v2/."""
        if self._base is None:
            with self._lock:
                if self._base is None:
                    self._base = self._ping()
        return self._base

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return self.base + path

    def _ping(self) -> str:
        for attempt in range(1, self.backoff.attempts + 1):
            try:
                return self._ping_once()
            except RegistryError as e:
                if not e.temporary or attempt == self.backoff.attempts:
                    raise
                self.backoff.sleep(attempt)
        raise AssertionError("unreachable")

    def _ping_once(self) -> str:
        what = f"registry {self.host}"
        failures = []
        for scheme in self._schemes():
            try:
                resp = self._probe(scheme)
            except requests.RequestException as e:
                err = from_exception(e, what)
                if err.code == "TLS_CERT" and not self.skip_verify:
                    raise err from None  # an untrusted certificate is the answer, not a reason to go plain
                failures.append(err)
                continue
            if scheme == "http" and resp.status_code == 400:
                # A TLS port answers plain HTTP with 400 ("client sent an HTTP request to an
                # HTTPS server"): not a registry over HTTP, try the next scheme.
                failures.append(from_response(resp, what))
                continue
            if resp.status_code == 401:
                # Get the header now, before any upload whose body could not be sent twice.
                self.auth.answer(resp.headers.get("WWW-Authenticate", ""), None)
            elif resp.status_code >= 500:
                raise from_response(resp, what)
            return f"{scheme}://{self.api_host}"
        raise failures[0]

    def _schemes(self) -> list[str]:
        if not self.plain_http_allowed:
            return ["https"]
        # On loopback plain HTTP is the common case (a local test registry): ask it first,
        # which also spares loading the CA bundle for a TLS attempt that would fail.
        if is_loopback(self.host) and self.options.tls_verify is None:
            return ["http", "https"]
        return ["https", "http"]

    def _probe(self, scheme: str) -> requests.Response:
        resp = self.session.get(f"{scheme}://{self.api_host}/v2/", auth=_NoAuth(), timeout=TIMEOUT, stream=True)
        read_prefix(resp)
        return resp

    # -- requests ----------------------------------------------------------------------

    def request(self, method: str, path: str, *, what: str, ok: Iterable[int] = (200,),
                headers: dict[str, str] | None = None, params=None,
                body: Callable[[], object] | bytes | None = None, stream: bool = False,
                retry: bool = True, limit: int = MAX_JSON) -> requests.Response:
        """Send, retrying temporary failures; a response with a status in `ok`, or an error.

        `body` may be a callable that makes a fresh body for each try (file streams).
        Unless `stream`, the answer's body is read here (retried when it drops) and refused
        when larger than `limit`; an error's body is read only as far as its message."""
        ok = tuple(ok)
        attempts = self.backoff.attempts if retry else 1
        auth_retried = False
        attempt = 0
        while True:
            attempt += 1
            sent_header = self.auth.header
            data = body() if callable(body) else body
            try:
                resp = self.session.request(method, self.url(path), headers=headers, params=params, data=data,
                                            stream=True, timeout=TIMEOUT)
                if resp.status_code not in ok:
                    read_prefix(resp)
                elif not stream:
                    read_limited(resp, limit, what)
            except requests.RequestException as e:
                err = from_exception(e, what)
                if err.temporary and attempt < attempts:
                    self.backoff.sleep(attempt)
                    continue
                raise err from None
            if resp.status_code in ok:
                return resp
            if resp.status_code == 401 and not auth_retried and self.auth.header != sent_header:
                auth_retried = True  # the flow got a new header but could not replay a stream
                resp.close()
                attempt -= 1
                continue
            err = from_response(resp, what)
            retry_after = resp.headers.get("Retry-After")
            resp.close()
            if err.temporary and attempt < attempts:
                self.backoff.sleep(attempt, retry_after)
                continue
            raise err


class _NoAuth(requests.auth.AuthBase):
    """The ping goes out bare: its 401 is the challenge we want to read."""

    def __call__(self, r):
        return r


class Connections:
    """One Transport per (host, insecure), shared by everything one command does."""

    def __init__(self, options: RegistryOptions | None = None):
        self.options = options or RegistryOptions()
        self._transports: dict[tuple[str, bool], Transport] = {}
        self._lock = threading.Lock()

    def get(self, host: str, insecure: bool = False) -> Transport:
        with self._lock:
            key = (host, insecure)
            if key not in self._transports:
                self._transports[key] = Transport(host, insecure=insecure, options=self.options)
            return self._transports[key]
