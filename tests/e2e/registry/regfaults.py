"""A small threaded HTTP proxy on loopback, in front of a real registry, that misbehaves
on request: drops the connection in the middle of a body, answers 500 or 429, corrupts a
blob, or trickles it out slowly. Everything else is passed through unchanged."""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te", "trailer"}


@dataclass
class Rule:
    method: str
    path: re.Pattern
    action: str                 # "drop", "status", "corrupt", "slow", "ignore-range" (answer 200 in full)
    times: int | None = 1       # None: every matching request
    status: int = 500
    after: int = 0              # "drop": bytes of the body sent before the connection drops
    headers: dict = field(default_factory=dict)
    rate: int = 256 * 1024      # "slow": bytes per second


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    range: str | None
    status: int


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        pass  # clients that hang up (a killed pull) are part of the tests


class FaultProxy:
    def __init__(self, upstream: str):
        self.upstream = upstream
        self.rules: list[Rule] = []
        self.seen: list[Seen] = []
        self.body_bytes = 0             # body bytes sent to clients (all requests)
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def add(self, method: str, path: str, action: str, **kwargs) -> Rule:
        rule = Rule(method, re.compile(path), action, **kwargs)
        with self._lock:
            self.rules.append(rule)
        return rule

    def requests(self, method: str, path_re: str) -> list[Seen]:
        pattern = re.compile(path_re)
        with self._lock:
            return [s for s in self.seen if s.method == method and pattern.search(s.path)]

    def _take(self, method: str, path: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.method == method and rule.path.search(path) and (rule.times is None or rule.times > 0):
                    if rule.times is not None:
                        rule.times -= 1
                    return rule
        return None

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    def _count(self, n: int) -> None:
        with self._lock:
            self.body_bytes += n

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(proxy: FaultProxy):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep pytest output clean
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            rule = proxy._take(self.command, self.path)
            if rule is not None and rule.action == "status":
                self._answer_status(rule)
                return
            upstream = http.client.HTTPConnection(proxy.upstream, timeout=60)
            # Header by header: a client may send several Accept lines, all of which count.
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            ignore_range = rule is not None and rule.action == "ignore-range"
            for k, v in self.headers.items():
                if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length" and not (
                        ignore_range and k.lower() == "range"):
                    upstream.putheader(k, v)
            upstream.putheader("Content-Length", str(len(body or b"")))
            upstream.endheaders(body)
            resp = upstream.getresponse()
            proxy._record(Seen(self.command, self.path, self.headers.get("Range"), resp.status))
            data_length = resp.getheader("Content-Length")
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            if data_length is None and self.command != "HEAD":
                payload = resp.read()
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                upstream.close()
                return
            self.send_header("Content-Length", data_length or "0")
            self.end_headers()
            if self.command == "HEAD":
                upstream.close()
                return
            self._relay(resp, rule)
            upstream.close()

        def _relay(self, resp, rule: Rule | None) -> None:
            sent = 0
            flipped = False
            while True:
                chunk = resp.read(64 * 1024)
                if not chunk:
                    break
                if rule is not None and rule.action == "drop" and sent + len(chunk) >= rule.after:
                    self.wfile.write(chunk[: rule.after - sent])
                    self.wfile.flush()
                    proxy._count(rule.after - sent)
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if rule is not None and rule.action == "corrupt" and not flipped:
                    chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
                    flipped = True
                if rule is not None and rule.action == "slow":
                    time.sleep(len(chunk) / rule.rate)
                self.wfile.write(chunk)
                sent += len(chunk)
                proxy._count(len(chunk))

        def _answer_status(self, rule: Rule) -> None:
            proxy._record(Seen(self.command, self.path, self.headers.get("Range"), rule.status))
            code = {429: "TOOMANYREQUESTS", 500: "UNKNOWN", 503: "UNAVAILABLE"}.get(rule.status, "UNKNOWN")
            payload = json.dumps({"errors": [{"code": code, "message": f"injected {rule.status}"}]}).encode()
            self.send_response(rule.status)
            for k, v in rule.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _serve

    return Handler
