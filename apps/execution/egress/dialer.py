"""Connect to exactly the checked address and exchange one HTTP request.

Written by hand because no library both pins the connection to an address that
was checked in advance and verifies TLS for the host name. Each call gets its
own urllib3 pool whose host is the checked IP, with the SNI name, certificate
check and Host header set to the URL's host. Pools never read proxy variables
or .netrc, never retry and never follow redirects.

Under test settings every dial attempt is recorded before it connects, and
addresses outside 127.0.0.0/8 and ::1 are refused, so a fault in the checks
fails a test instead of sending traffic anywhere.
"""

import http.client
import ssl
from dataclasses import dataclass
from functools import lru_cache

import certifi
import urllib3
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.exceptions import SSLError as Urllib3SSLError
from urllib3.util import parse_url as urllib3_parse_url
from urllib3.util.ssl_ import create_urllib3_context
from urllib3.util.ssl_match_hostname import CertificateError

from apps.execution.egress import testing
from apps.execution.egress.addresses import is_plain_loopback
from apps.execution.egress.deadline import Deadline
from apps.execution.egress.errors import EgressError
from apps.execution.egress.urls import ParsedUrl

READ_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Target:
    """The dialer's destination: the parsed URL, the checked address and the port."""

    parsed: ParsedUrl
    address: str
    port: int


@dataclass(frozen=True)
class Exchange:
    """The status, headers and decoded body of one response."""

    status: int
    headers: dict[str, str]
    body: bytes


class _CallContext:
    """State one call shares with its connections: the deadline and the target."""

    def __init__(self, target: Target, deadline: Deadline) -> None:
        self.target = target
        self.deadline = deadline
        self.connections: list[HTTPConnection] = []
        # The phase in progress, one of errors.TIMEOUT_PHASES after DNS. A
        # timeout or a watchdog shutdown is reported with it.
        self.phase = "connect"

    def set_read_timeout(self, seconds: float) -> None:
        for connection in self.connections:
            if connection.sock is not None:
                connection.sock.settimeout(seconds)


class _GuardedConnectionMixin:
    """Record and vet each dial before connecting, and watch the new socket."""

    def __init__(self, *args, egress_call: _CallContext, **kwargs) -> None:
        self._egress_call = egress_call
        super().__init__(*args, **kwargs)
        egress_call.connections.append(self)  # type: ignore[arg-type]

    def _new_conn(self):  # type: ignore[no-untyped-def]
        call = self._egress_call
        target = call.target
        if settings.SECOND_TEST_MODE:
            _record_and_vet_test_dial(target)

        # The TCP connect is bounded by the connect timeout, which the pool set
        # to the time remaining. The watchdog bounds everything after it.
        call.deadline.require("connect")
        sock = super()._new_conn()  # type: ignore[misc]
        call.deadline.watch(sock)
        # HTTPSConnection.connect runs the TLS handshake right after this.
        call.phase = "tls" if target.parsed.scheme == "https" else "headers"
        return sock

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        # urlopen sends the request next and then waits for the status line.
        self._egress_call.phase = "headers"


class GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    """A plain HTTP connection, used only for local-mode loopback destinations."""


class GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    """A verified HTTPS connection to the checked address."""


def exchange(
    target: Target,
    *,
    method: str,
    headers: dict[str, str],
    body: bytes | None,
    deadline: Deadline,
    max_response_bytes: int,
) -> Exchange:
    """Send one request to `target` and return the response, within `deadline`.

    Raises EgressError: `provider_redirect` for a 3xx response (never followed),
    `response_too_large` past `max_response_bytes` of decoded body, and the
    network, TLS and timeout codes for failures.
    """
    check_urllib3_agrees(target.parsed)
    call = _CallContext(target, deadline)
    pool = _build_pool(call)
    try:
        response = _open(pool, call, method=method, headers=headers, body=body)
        try:
            # Headers cut short by the watchdog can still parse, so they count
            # only if they arrived in time.
            call.deadline.require(call.phase)
            _reject_redirect(response, target.parsed)
            _reject_declared_length(response, target.parsed, max_response_bytes)
            data = _read_body(response, call, max_response_bytes)
            return Exchange(response.status, _flatten_headers(response), data)
        finally:
            # Closing without draining: an unread body is discarded, not inflated.
            response.close()
    finally:
        pool.close()


def check_urllib3_agrees(parsed: ParsedUrl) -> None:
    """Raise `url_invalid` unless urllib3 reads the canonical URL as the parser did.

    The pool is built from the parsed fields, so this check guards against a
    canonical form that urllib3 would read differently from this module.
    """
    theirs = urllib3_parse_url(parsed.canonical)
    port = theirs.port or (443 if theirs.scheme == "https" else 80)
    agrees = (
        theirs.scheme == parsed.scheme
        and (theirs.host or "").strip("[]") == parsed.host
        and port == parsed.port
        and theirs.request_uri == parsed.path_and_query
        and theirs.auth is None
    )
    if not agrees:
        raise EgressError(
            "url_invalid",
            reason="parser_mismatch",
            host=parsed.host,
            detail="urllib3 reads the URL differently from the egress parser.",
        )


def _record_and_vet_test_dial(target: Target) -> None:
    parsed = target.parsed
    dial = testing.Dial(parsed.host, target.address, target.port, parsed.scheme)
    testing.record_dial(dial, settings.SECOND_EGRESS_DIAL_LOG or None)
    if is_plain_loopback(target.address):
        return
    raise EgressError(
        "connection_failed",
        reason="test_dial_refused",
        host=parsed.host,
        detail=f"Test settings dial loopback only, not {target.address}.",
    )


def _build_pool(call: _CallContext) -> urllib3.HTTPConnectionPool:
    target = call.target
    remaining = call.deadline.require("connect")
    timeout = urllib3.Timeout(connect=remaining, read=remaining)
    common = {
        "host": target.address,
        "port": target.port,
        "timeout": timeout,
        "maxsize": 1,
        "block": False,
        "retries": False,
        "egress_call": call,
    }
    if target.parsed.scheme == "http":
        pool = urllib3.HTTPConnectionPool(**common)
        pool.ConnectionCls = GuardedHTTPConnection
        return pool

    pool = urllib3.HTTPSConnectionPool(
        **common,
        cert_reqs="CERT_REQUIRED",
        ssl_context=_ssl_context(_extra_ca_path()),
        server_hostname=target.parsed.host,
        assert_hostname=target.parsed.host,
    )
    pool.ConnectionCls = GuardedHTTPSConnection
    return pool


def _extra_ca_path() -> str:
    if settings.SECOND_TEST_MODE:
        return settings.SECOND_EGRESS_EXTRA_CA or ""
    return ""


@lru_cache(maxsize=4)
def _ssl_context(extra_ca_path: str) -> ssl.SSLContext:
    """Return a verifying TLS 1.2+ context with certifi's roots and the extra CA.

    urllib3 matches the certificate against `assert_hostname` itself, so it sets
    `check_hostname = False` and `verify_mode` on the context it is given. Both
    are set here first, so urllib3 writes the same values into the shared context.
    """
    context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.hostname_checks_common_name = False
    context.load_verify_locations(cafile=certifi.where())
    if extra_ca_path:
        context.load_verify_locations(cafile=extra_ca_path)
    return context


def _open(
    pool: urllib3.HTTPConnectionPool,
    call: _CallContext,
    *,
    method: str,
    headers: dict[str, str],
    body: bytes | None,
) -> urllib3.BaseHTTPResponse:
    remaining = call.deadline.require("connect")
    try:
        return pool.urlopen(
            method,
            call.target.parsed.path_and_query,
            body=body,
            headers=headers,
            retries=False,
            redirect=False,
            timeout=urllib3.Timeout(connect=remaining, read=remaining),
            pool_timeout=remaining,
            release_conn=False,
            preload_content=False,
            decode_content=True,
        )
    except EgressError:
        raise
    except Exception as error:
        raise _translate(error, call) from None


def _reject_redirect(response: urllib3.BaseHTTPResponse, parsed: ParsedUrl) -> None:
    # 304 Not Modified is the response to a conditional request, not a redirect.
    if not 300 <= response.status < 400 or response.status == 304:
        return

    location = response.headers.get("Location", "")
    raise EgressError(
        "provider_redirect",
        reason=f"status_{response.status}",
        host=parsed.host,
        redirect_host=_location_host(location, parsed),
    )


def _location_host(location: str, parsed: ParsedUrl) -> str | None:
    if not location:
        return None
    if location.startswith("/") and not location.startswith("//"):
        return parsed.host
    try:
        host = urllib3_parse_url(location).host
    except Exception:  # an unparseable Location is reported without a host
        return None
    return host.strip("[]") if host else None


def _reject_declared_length(
    response: urllib3.BaseHTTPResponse, parsed: ParsedUrl, limit: int
) -> None:
    # A declared length past the limit fails before any byte of the body is read.
    # With a Content-Encoding the length counts encoded bytes, so only the
    # streamed, decoded count decides.
    if response.headers.get("Content-Encoding", "identity").lower() != "identity":
        return
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(parsed, limit)


def _read_body(
    response: urllib3.BaseHTTPResponse, call: _CallContext, limit: int
) -> bytes:
    call.phase = "body"
    chunks: list[bytes] = []
    total = 0
    while True:
        remaining = call.deadline.require("body")
        call.set_read_timeout(remaining)
        try:
            # read1 decodes at most one chunk per call, so a compression bomb
            # never inflates past the limit plus one chunk in memory.
            chunk = response.read1(READ_CHUNK_BYTES)
        except Exception as error:
            raise _translate(error, call) from None
        if not chunk:
            # The watchdog's shutdown looks like the end of a body that has no
            # length, so a body that ends after the deadline is not trusted.
            if call.deadline.expired:
                raise call.deadline.timeout_error("body")
            return b"".join(chunks)

        total += len(chunk)
        if total > limit:
            raise _too_large(call.target.parsed, limit)
        chunks.append(chunk)


def _too_large(parsed: ParsedUrl, limit: int) -> EgressError:
    return EgressError(
        "response_too_large",
        reason="body",
        host=parsed.host,
        detail=f"The response body is longer than {limit} bytes after decoding.",
    )


def _flatten_headers(response: urllib3.BaseHTTPResponse) -> dict[str, str]:
    # Repeated headers are joined with ", ", as HTTPHeaderDict does on lookup.
    return {name: response.headers[name] for name in response.headers}


def _translate(error: Exception, call: _CallContext) -> EgressError:
    """Map a urllib3, ssl or socket error to an EgressError with a stable code."""
    host = call.target.parsed.host
    if call.deadline.expired:
        return call.deadline.timeout_error(call.phase)
    # NewConnectionError subclasses ConnectTimeoutError, so it is tested first.
    if isinstance(error, NewConnectionError):
        return EgressError("connection_failed", reason="connect", host=host)
    if isinstance(error, ConnectTimeoutError):
        return call.deadline.timeout_error(call.phase)
    if isinstance(error, ReadTimeoutError | TimeoutError):
        return call.deadline.timeout_error(call.phase)
    if isinstance(error, CertificateError | ssl.SSLCertVerificationError):
        return EgressError("tls_failed", reason="certificate", host=host)
    if isinstance(error, Urllib3SSLError | ssl.SSLError):
        return _translate_ssl(error, host)
    if isinstance(error, DecodeError):
        return EgressError("connection_failed", reason="decode", host=host)
    if isinstance(error, ProtocolError | http.client.HTTPException):
        return EgressError("connection_failed", reason="protocol", host=host)
    if isinstance(error, HTTPError | OSError):
        return EgressError("connection_failed", reason="socket", host=host)
    raise error


def _translate_ssl(error: Exception, host: str) -> EgressError:
    # urllib3 wraps ssl errors, so the certificate failure may sit in the cause.
    cause = error.__cause__ or (error.args[0] if error.args else None)
    if isinstance(cause, CertificateError | ssl.SSLCertVerificationError):
        return EgressError("tls_failed", reason="certificate", host=host)
    return EgressError("tls_failed", reason="handshake", host=host)
