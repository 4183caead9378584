"""A tiny hostile registry on loopback (http.server in a thread): it answers /v2/ and then
serves endless or oversized manifests, configs and token answers, to prove the client
reads no more than its limits."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = b" " * (64 << 10)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # the client hangs up on endless bodies: that is the point


class HostileRegistry:
    """`mode`: "documents" (serves `documents` as they are), "endless-manifest" (no
    Content-Length, never ends), "huge-length" (claims 10 GiB), "endless-token" (a bearer
    challenge whose token server never stops), "endless-error" (a 404 whose error body
    never ends)."""

    def __init__(self, mode: str, documents: dict[str, tuple[str, bytes]] | None = None):
        self.mode = mode
        self.documents = documents or {}  # mode "documents": path -> (content type, body)
        self.sent = 0
        self._server = _QuietServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(hostile: HostileRegistry):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # no Content-Length: the body lasts until we close

        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            mode = hostile.mode
            if self.path.startswith("/token"):
                self._endless(200, "application/json", b'{"token": "')
            elif self.path == "/v2/" and mode == "endless-token":
                self.send_response(401)
                self.send_header("WWW-Authenticate",
                                 f'Bearer realm="http://{hostile.address}/token",service="hostile"')
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif mode == "documents" and self.path != "/v2/":
                content_type, body = hostile.documents.get(self.path, ("application/json", b""))
                self.send_response(200 if self.path in hostile.documents else 404)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command == "GET":
                    self.wfile.write(body)
            elif self.path == "/v2/":
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif mode == "huge-length":
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                self.send_header("Content-Length", str(10 << 30))
                self.end_headers()
                self._pour()
            elif mode == "endless-error":
                self._endless(404, "application/json", b'{"errors": [{"code": "MANIFEST_UNKNOWN", "message": "')
            else:
                self._endless(200, "application/vnd.oci.image.manifest.v1+json", b'{"schemaVersion": 2, "x": "')

        do_HEAD = do_GET

        def _endless(self, status: int, content_type: str, head: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.end_headers()
            self.wfile.write(head)
            self._pour()

        def _pour(self) -> None:
            try:
                while hostile.sent < (8 << 30):
                    self.wfile.write(CHUNK)
                    hostile.sent += len(CHUNK)
            except OSError:
                pass

    return Handler
