"""Pieces of the distribution protocol that need no server: challenges, error bodies,
transport failures, platforms, backoff."""

from __future__ import annotations

import json

import pytest
import requests

from rootless_build.errors import UsageError
from rootless_build.oci import platform as platforms
from rootless_build.oci.models import parse_index
from rootless_build.registry.auth import parse_challenges
from rootless_build.registry.errors import (
    RegistryAuthError,
    RegistryNotFound,
    RegistryTLSError,
    from_exception,
    from_response,
)
from rootless_build.registry.retry import Backoff
from rootless_build.registry.transport import is_loopback


def test_bearer_challenge():
    (c,) = parse_challenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                            'scope="repository:library/busybox:pull,push"')
    assert c.scheme == "bearer"
    assert c.params == {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                        "scope": "repository:library/busybox:pull,push"}


def test_several_challenges_and_escapes():
    cs = parse_challenges('Basic realm="a \\"quoted\\" realm", Bearer realm=https://t.example/token,error=x')
    assert [c.scheme for c in cs] == ["basic", "bearer"]
    assert cs[0].params["realm"] == 'a "quoted" realm'
    assert cs[1].params == {"realm": "https://t.example/token", "error": "x"}
    assert parse_challenges("") == []


def response(status: int, body: bytes = b"", headers: dict | None = None) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp._content = body
    resp.headers.update(headers or {})
    return resp


def errors_body(code: str, message: str) -> bytes:
    return json.dumps({"errors": [{"code": code, "message": message, "detail": {}}]}).encode()


@pytest.mark.parametrize("status, body, kind, temporary, text", [
    (404, errors_body("MANIFEST_UNKNOWN", "manifest unknown"), RegistryNotFound, False, "manifest unknown"),
    (401, errors_body("UNAUTHORIZED", "authentication required"), RegistryAuthError, False, "authentication required"),
    (401, b"", RegistryAuthError, False, "authentication required"),
    (403, errors_body("DENIED", "requested access to the resource is denied"), RegistryAuthError, False, "denied"),
    (429, errors_body("TOOMANYREQUESTS", "slow down"), None, True, "slow down"),
    (500, b"<html>oops</html>", None, True, "HTTP 500"),
    (503, errors_body("UNAVAILABLE", "maintenance"), None, True, "maintenance"),
    (400, errors_body("DIGEST_INVALID", "provided digest did not match uploaded content"), None, False,
     "did not match"),
])
def test_error_bodies(status, body, kind, temporary, text):
    err = from_response(response(status, body), "doing it")
    if kind is not None:
        assert isinstance(err, kind)
    assert err.temporary is temporary
    assert err.status == status
    assert str(err).startswith("doing it: ") and text in str(err)


def test_transport_failures():
    refused = from_exception(requests.ConnectionError(ConnectionRefusedError(111, "Connection refused")), "x")
    assert "connection refused" in str(refused) and not refused.temporary
    reset = from_exception(requests.ConnectionError(ConnectionResetError(104, "Connection reset by peer")), "x")
    assert reset.temporary and "connection lost" in str(reset)
    error = requests.exceptions.SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    tls = from_exception(error, "x")
    assert isinstance(tls, RegistryTLSError) and "--cert-dir" in str(tls)
    assert from_exception(requests.Timeout("read timed out"), "x").temporary


@pytest.mark.parametrize("host, loopback", [
    ("localhost", True), ("localhost:5000", True), ("127.0.0.1:5000", True), ("127.1.2.3", True),
    ("[::1]:5000", True), ("::1", True), ("registry.example:5000", False), ("10.0.0.1:5000", False),
])
def test_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_backoff_doubles_caps_and_obeys_retry_after():
    b = Backoff(attempts=5, base=1.0, ceiling=4.0)
    assert 0.75 <= b.delay(1) <= 1.0 and 1.5 <= b.delay(2) <= 2.0 and 3.0 <= b.delay(5) <= 4.0
    assert b.delay(1, "3") == 3.0 and b.delay(1, "100") == 4.0
    assert 0.75 <= b.delay(1, "Wed, 21 Oct 2015 07:28:00 GMT") <= 1.0


INDEX = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "1" * 64, "size": 1,
     "platform": {"os": "linux", "architecture": "amd64"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "2" * 64, "size": 1,
     "platform": {"os": "linux", "architecture": "arm", "variant": "v6"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "3" * 64, "size": 1,
     "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "4" * 64, "size": 1,
     "platform": {"os": "linux", "architecture": "arm64"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "5" * 64, "size": 1,
     "platform": {"os": "unknown", "architecture": "unknown"}},
]}).encode()


@pytest.mark.parametrize("wanted, digit", [
    ("linux/amd64", "1"), ("linux/arm/v7", "3"), ("linux/arm", "2"), ("linux/arm64", "4"), ("linux/arm64/v8", "4"),
    ("LINUX/AMD64", "1"),
])
def test_choose_platform(wanted, digit):
    desc = platforms.choose(parse_index(INDEX), platforms.parse(wanted), "x")
    assert desc.digest == "sha256:" + digit * 64


def test_no_platform_lists_what_is_there():
    with pytest.raises(Exception) as info:
        platforms.choose(parse_index(INDEX), platforms.parse("windows/amd64"), "reg/x:1")
    assert str(info.value) == ("reg/x:1: no image for windows/amd64 in the manifest list "
                               "(it has: linux/amd64, linux/arm/v6, linux/arm/v7, linux/arm64)")


@pytest.mark.parametrize("text", ["linux", "linux/", "a/b/c/d"])
def test_bad_platform(text):
    with pytest.raises(UsageError):
        platforms.parse(text)


def test_host_platform_is_linux():
    assert platforms.parse(None).os == "linux"


@pytest.mark.parametrize("host, insecure, tls_verify, schemes", [
    ("registry.example:5000", False, None, ["https"]),
    ("registry.example:5000", True, None, ["https", "http"]),
    ("registry.example:5000", False, False, ["https", "http"]),
    ("registry.example:5000", True, True, ["https"]),
    ("127.0.0.1:5000", False, None, ["http", "https"]),
    ("localhost:5000", False, True, ["https"]),
    ("localhost:5000", False, False, ["https", "http"]),
])
def test_plain_http_policy(host, insecure, tls_verify, schemes):
    from rootless_build.registry.options import RegistryOptions
    from rootless_build.registry.transport import Transport

    t = Transport(host, insecure=insecure, options=RegistryOptions(tls_verify=tls_verify))
    assert t._schemes() == schemes
    assert t.skip_verify is (tls_verify is False or (insecure and tls_verify is None))
