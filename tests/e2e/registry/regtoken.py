"""A token server for docker-registry's `auth: token:` mode, as Docker Hub runs one:
checks Basic credentials, grants the requested scopes, and signs an RS256 JWT (with
`openssl dgst`) whose x5c header carries the certificate the registry trusts."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ISSUER = "rb-test-issuer"
SERVICE = "rb-test-registry"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenRequest:
    account: str | None
    scopes: list[str]
    service: str | None
    status: int


@dataclass
class TokenServer:
    key: Path
    cert: Path
    users: dict[str, str]
    seen: list[TokenRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        body = "".join(line for line in self.cert.read_text().splitlines() if "-----" not in line)
        self._x5c = [body]  # standard base64 of the DER certificate
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def token(self, user: str | None, scopes: list[str]) -> str:
        access = []
        for scope in scopes if user else []:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": self._x5c}
        claims = {"iss": ISSUER, "sub": user or "", "aud": SERVICE, "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": uuid.uuid4().hex, "access": access}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)],
                                   input=signing_input.encode(), capture_output=True, check=True).stdout
        return f"{signing_input}.{_b64url(signature)}"


def _handler(server: TokenServer):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            user = None
            auth = self.headers.get("Authorization", "")
            status = 200
            if auth.startswith("Basic "):
                name, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                if server.users.get(name) == password:
                    user = name
                else:
                    status = 401
            server.seen.append(TokenRequest(query.get("account", [None])[0], query.get("scope", []),
                                            query.get("service", [None])[0], status))
            if status != 200:
                payload = json.dumps({"details": "incorrect username or password"}).encode()
            else:
                payload = json.dumps({"token": server.token(user, query.get("scope", [])),
                                      "expires_in": 300}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler
