"""Registry answers turned into typed errors: the distribution spec's JSON error bodies,
HTTP statuses and transport failures. `temporary` says whether a retry may help."""

from __future__ import annotations

import json

from rootless_build.errors import RegistryError

# Statuses worth retrying: the server or something in front of it is overloaded or broken.
TEMPORARY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
TEMPORARY_CODES = frozenset({"TOOMANYREQUESTS", "UNAVAILABLE"})


class RegistryAuthError(RegistryError):
    """Credentials missing, wrong, or not allowed to do this (401/403)."""


class RegistryNotFound(RegistryError):
    """The repository, manifest or blob does not exist (404, *_UNKNOWN)."""


class RegistryTLSError(RegistryError):
    """The TLS handshake failed: untrusted certificate or a plain HTTP server."""


def from_response(resp, what: str) -> RegistryError:
    """The error a failed response stands for, its message prefixed with `what`."""
    status = resp.status_code
    code, message = _parse_body(resp)
    if not message:
        message = _status_text(status, resp.reason)
    temporary = status in TEMPORARY_STATUSES or code in TEMPORARY_CODES
    if status in (401, 403) or code in ("UNAUTHORIZED", "DENIED"):
        if status == 401 and not code:
            message = "authentication required"
        return RegistryAuthError(f"{what}: {message}", code=code, status=status)
    if status == 404 or code.endswith("_UNKNOWN") or code == "NAME_UNKNOWN":
        return RegistryNotFound(f"{what}: {message}", code=code, status=status)
    return RegistryError(f"{what}: {message}", code=code, status=status, temporary=temporary)


def from_exception(exc: BaseException, what: str) -> RegistryError:
    """A transport failure (refused, reset, timed out, TLS) as a one-line error."""
    text = _root_cause(exc)
    lowered = text.lower()
    if "certificate_verify_failed" in lowered or "certificate verify failed" in lowered:
        return RegistryTLSError(
            f"{what}: TLS certificate not trusted (use --cert-dir with the registry's CA, "
            f"or --tls-verify=false)", code="TLS_CERT")
    if "wrong version number" in lowered or "record layer failure" in lowered or "unknown protocol" in lowered:
        return RegistryTLSError(f"{what}: the server does not speak TLS (plain HTTP registry?)", code="TLS_PLAIN")
    if "connection refused" in lowered or "errno 111" in lowered:
        return RegistryError(f"{what}: connection refused (is the registry running?)", code="CONNREFUSED")
    if "name or service not known" in lowered or "temporary failure in name resolution" in lowered:
        return RegistryError(f"{what}: cannot resolve the registry's host name", code="DNS")
    if "timed out" in lowered or "timeout" in lowered:
        return RegistryError(f"{what}: timed out", code="TIMEOUT", temporary=True)
    # Resets, broken pipes, truncated bodies: the connection dropped, a retry may work.
    return RegistryError(f"{what}: connection lost ({text})", code="CONNECTION", temporary=True)


def _parse_body(resp) -> tuple[str, str]:
    """(code, message) of the first error in a distribution-spec JSON body."""
    try:
        body = resp.content[:65536]
        doc = json.loads(body)
    except (ValueError, TypeError, RuntimeError):
        return "", ""
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if not errors or not isinstance(errors, list) or not isinstance(errors[0], dict):
        if isinstance(doc, dict) and isinstance(doc.get("details") or doc.get("message"), str):
            return "", doc.get("details") or doc.get("message")
        return "", ""
    first = errors[0]
    code = str(first.get("code") or "")
    message = str(first.get("message") or code.lower().replace("_", " "))
    return code, message


def _status_text(status: int, reason: str | None) -> str:
    return f"HTTP {status}" + (f" {reason}" if reason else "")


def _root_cause(exc: BaseException) -> str:
    """The innermost readable reason of a requests/urllib3 exception chain."""
    seen = set()
    best = str(exc)
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        reason = getattr(current, "reason", None)
        text = str(current)
        if text:
            best = text
        if isinstance(reason, BaseException):
            current = reason
        elif current.args and isinstance(current.args[0], BaseException):
            current = current.args[0]
        else:
            current = current.__cause__ or current.__context__
    return best.strip() or type(exc).__name__
