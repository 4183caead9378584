"""Registry authentication as a requests auth flow: answer a 401 challenge with Basic
credentials or with a Bearer token fetched from the challenge's realm (service, scope),
then send the same header with every later request to that registry."""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import requests
from requests.auth import AuthBase

from rootless_build.registry.errors import RegistryAuthError, from_exception, from_response
from rootless_build.registry.limits import MAX_TOKEN, read_limited, read_prefix

_PARAM_RE = re.compile(r'([A-Za-z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')

Credentials = Callable[[], "tuple[str, str] | None"]


@dataclass(frozen=True)
class Challenge:
    scheme: str                  # "basic" or "bearer" (lower case)
    params: dict[str, str] = field(default_factory=dict)


def parse_challenges(header: str) -> list[Challenge]:
    """Every challenge of a WWW-Authenticate header, in order."""
    out: list[Challenge] = []
    pos = 0
    header = header or ""
    while pos < len(header):
        m = re.compile(r"\s*,?\s*([A-Za-z][\w-]*)(?=\s|$|,)").match(header, pos)
        if not m:
            break
        scheme, pos = m.group(1).lower(), m.end()
        params: dict[str, str] = {}
        while True:
            pm = re.compile(r"\s*,?\s*").match(header, pos)
            p = _PARAM_RE.match(header, pm.end())
            if not p:
                break
            value = p.group(2) if p.group(2) is not None else p.group(3)
            params[p.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
            pos = p.end()
        out.append(Challenge(scheme, params))
    return out


class RegistryAuth(AuthBase):
    """One per registry host. `scopes` grow as repositories are used (pull, push, mount)."""

    def __init__(self, host: str, credentials: Credentials, session: requests.Session, verify=True):
        self.host = host
        self._credentials = credentials
        self._creds_cache: tuple[str, str] | None = None
        self._creds_loaded = False
        self._session = session      # used for token requests (no auth flow attached)
        self._verify = verify
        self._lock = threading.Lock()
        self._header: str | None = None
        self.scopes: set[str] = set()

    def add_scope(self, repository: str, actions: str) -> None:
        self.scopes.add(f"repository:{repository}:{actions}")

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._header and "Authorization" not in r.headers:
            r.headers["Authorization"] = self._header
        r.register_hook("response", self._on_response)
        return r

    @property
    def header(self) -> str | None:
        return self._header

    def credentials(self) -> tuple[str, str] | None:
        if not self._creds_loaded:
            self._creds_cache = self._credentials()
            self._creds_loaded = True
        return self._creds_cache

    def _on_response(self, resp: requests.Response, **kwargs) -> requests.Response:
        if resp.status_code != 401 or getattr(resp.request, "_rb_auth_retry", False):
            return resp
        sent = resp.request.headers.get("Authorization")
        if not self.answer(resp.headers.get("WWW-Authenticate", ""), sent):
            return resp
        body = resp.request.body
        if body is not None and not isinstance(body, (bytes, str)):
            return resp  # a stream cannot be replayed here: the caller retries with a fresh one
        read_prefix(resp)  # drain (boundedly) so the connection can go back to the pool
        resp.close()
        retry = resp.request.copy()
        retry.headers["Authorization"] = self._header
        retry._rb_auth_retry = True  # type: ignore[attr-defined]
        new = resp.connection.send(retry, **kwargs)
        new.history.append(resp)
        new.request = retry
        return new

    def answer(self, www_authenticate: str, sent: str | None) -> bool:
        """Get credentials for a challenge; True when the request is worth sending again."""
        with self._lock:
            if self._header and sent != self._header:
                return True  # another thread refreshed the header since this request left
            challenges = parse_challenges(www_authenticate)
            bearer = next((c for c in challenges if c.scheme == "bearer"), None)
            basic = next((c for c in challenges if c.scheme == "basic"), None)
            if bearer is not None:
                header = "Bearer " + self._fetch_token(bearer.params)
            elif basic is not None:
                creds = self.credentials()
                if not creds:
                    return False
                header = basic_header(*creds)
            else:
                return False
            if header == sent:
                return False
            self._header = header
            return True

    def _fetch_token(self, params: dict[str, str]) -> str:
        realm = params.get("realm")
        if not realm:
            raise RegistryAuthError(f"{self.host}: bearer challenge without a realm")
        scopes = set(self.scopes)
        scopes.update(s for s in params.get("scope", "").split(" ") if s)
        query: list[tuple[str, str]] = []
        if params.get("service"):
            query.append(("service", params["service"]))
        query += [("scope", s) for s in sorted(scopes)]
        creds = self.credentials()
        auth = None
        if creds:
            if creds[0] == "<token>":  # docker's identity token: an OAuth2 refresh token
                return self._fetch_oauth(realm, params, scopes, creds[1])
            auth = creds
            query.append(("account", creds[0]))
        what = f"authenticating to {self.host}"
        try:
            resp = self._session.get(realm, params=query, auth=auth, verify=self._verify, timeout=(30, 60),
                                     stream=True)
            _read_answer(resp, what)
        except requests.RequestException as e:
            raise from_exception(e, what) from None
        if resp.status_code in (401, 403):
            reason = "invalid username/password" if creds else "authentication required"
            raise RegistryAuthError(f"{what}: {reason}", status=resp.status_code)
        if resp.status_code != 200:
            raise from_response(resp, what)
        return _token_of(resp, what)

    def _fetch_oauth(self, realm: str, params: dict[str, str], scopes: set[str], refresh: str) -> str:
        what = f"authenticating to {self.host}"
        form = {"grant_type": "refresh_token", "refresh_token": refresh,
                "service": params.get("service", ""), "client_id": "rootless-build",
                "scope": " ".join(sorted(scopes))}
        try:
            resp = self._session.post(realm, data=form, verify=self._verify, timeout=(30, 60), stream=True)
            _read_answer(resp, what)
        except requests.RequestException as e:
            raise from_exception(e, what) from None
        if resp.status_code != 200:
            raise from_response(resp, what)
        return _token_of(resp, what)


def basic_header(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _read_answer(resp: requests.Response, what: str) -> None:
    """A token answer read whole but bounded; an error's only as far as its message."""
    if resp.status_code == 200:
        read_limited(resp, MAX_TOKEN, what)
    else:
        read_prefix(resp)


def _token_of(resp: requests.Response, what: str) -> str:
    try:
        doc = resp.json()
        token = doc.get("token") or doc.get("access_token")
    except (ValueError, AttributeError):
        token = None
    if not token:
        raise RegistryAuthError(f"{what}: the token server's answer holds no token")
    return token
