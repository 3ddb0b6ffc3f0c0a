"""The egress client: every outbound HTTP request of the product goes through `send`.

`check_destination` applies the rules in order, and stops at the first that
fails: URL syntax, https on port 443, the policy's domain lock, the deny list,
the product's own origin, then the resolved addresses. `send` first checks the
method and the request body's size, and dials the address that was checked and
nothing else.
"""

import ipaddress
import logging
import re
import time
from dataclasses import dataclass

from django.conf import settings

from apps.execution.egress import dialer, resolver
from apps.execution.egress.addresses import classify, is_plain_loopback
from apps.execution.egress.deadline import Deadline
from apps.execution.egress.errors import EgressError
from apps.execution.egress.urls import ParsedUrl, normalize_host, parse_url

logger = logging.getLogger(__name__)

ALLOWED_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
)

# The client sets these itself; a caller-supplied value could redirect the
# request to another virtual host or desynchronise the message framing.
RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "proxy-authorization",
        "proxy-connection",
    }
)

_HEADER_NAME_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Field values may contain visible characters, spaces and tabs, nothing else.
_HEADER_VALUE_RE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")

DEFAULT_USER_AGENT = "second-django-egress"

# The largest request body sent upstream, the same bound as the response cap. A
# larger body is refused before any DNS lookup or connection.
MAX_REQUEST_BODY_BYTES = 1024 * 1024

# Ways a destination may skip the public-address rule.
WAIVER_OPERATOR_HOST = "operator_host"
WAIVER_TEST_MAP = "test_resolve"
WAIVER_LOCAL_LOOPBACK = "local_loopback"


@dataclass(frozen=True)
class EgressPolicy:
    """The destinations a caller may reach.

    `allowed_domain` locks tool calls to that host and its subdomains; None
    allows any public host (OAuth and OIDC provider URLs). Only operator-facing
    callers (OIDC endpoints, the runtime webhook) set `operator_hosts_allowed`.
    `purpose` names the caller in logs.
    """

    allowed_domain: str | None
    operator_hosts_allowed: bool = False
    purpose: str = "tool"


@dataclass(frozen=True)
class OutboundRequest:
    """One request to send. `headers` are sent as given, after validation."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None = None


@dataclass(frozen=True)
class OutboundResponse:
    """A response and where it came from.

    `body` is decoded and at most SECOND_EGRESS_MAX_RESPONSE_BYTES long.
    `request_bytes` counts the request body. `elapsed_ms` covers the whole call,
    DNS included.
    """

    status: int
    headers: dict[str, str]
    body: bytes
    host: str
    address: str
    elapsed_ms: int
    request_bytes: int


@dataclass(frozen=True)
class Destination:
    """A checked destination: every resolved address, and the one to dial.

    `port_to_dial` differs from the URL's port only for SECOND_EGRESS_RESOLVE
    test mappings. `waiver` names why the public-address rule was skipped, if it
    was.
    """

    parsed: ParsedUrl
    addresses: tuple[str, ...]
    address_to_dial: str
    port_to_dial: int
    waiver: str | None = None


def check_destination(
    url: str, *, policy: EgressPolicy, deadline: Deadline | None = None
) -> Destination:
    """Apply every egress rule to `url` and its addresses, opening no connection.

    Raises EgressError with the first rule that fails.
    """
    if deadline is None:
        deadline = Deadline(settings.SECOND_EGRESS_DEADLINE_SECONDS)

    parsed = parse_url(url)
    deadline.host = parsed.host
    local_mode = bool(settings.SECOND_LOCAL_MODE)
    if not local_mode:
        _require_https_443(parsed)

    _check_domain_lock(parsed, policy)
    _check_deny_list(parsed)
    _check_own_origin_host(parsed, local_mode)

    resolution = resolver.resolve(parsed, deadline)
    _check_own_origin_addresses(parsed, resolution.addresses, local_mode)
    waiver = _check_addresses(parsed, resolution, policy, local_mode)
    return Destination(
        parsed=parsed,
        addresses=resolution.addresses,
        address_to_dial=resolution.addresses[0],
        port_to_dial=resolution.port,
        waiver=waiver,
    )


def send(
    request: OutboundRequest,
    *,
    policy: EgressPolicy,
    deadline_seconds: float | None = None,
) -> OutboundResponse:
    """Send `request` under `policy` and return the response.

    One deadline (`deadline_seconds`, by default SECOND_EGRESS_DEADLINE_SECONDS)
    covers DNS, connect, TLS, headers and body. Raises EgressError for every
    refusal and failure; each is logged at INFO without the URL's path or query,
    header values or body.
    """
    started = time.monotonic()
    seconds = deadline_seconds or settings.SECOND_EGRESS_DEADLINE_SECONDS
    deadline = Deadline(seconds)
    try:
        method = _check_method(request.method)
        _check_request_size(request)
        destination = check_destination(request.url, policy=policy, deadline=deadline)
        headers = _request_headers(request.headers, destination.parsed)
        target = dialer.Target(
            destination.parsed, destination.address_to_dial, destination.port_to_dial
        )
        result = dialer.exchange(
            target,
            method=method,
            headers=headers,
            body=request.body,
            deadline=deadline,
            max_response_bytes=settings.SECOND_EGRESS_MAX_RESPONSE_BYTES,
        )
    except EgressError as error:
        _log_refusal(error, policy)
        raise
    finally:
        deadline.close()

    return OutboundResponse(
        status=result.status,
        headers=result.headers,
        body=result.body,
        host=destination.parsed.host,
        address=destination.address_to_dial,
        elapsed_ms=int((time.monotonic() - started) * 1000),
        request_bytes=len(request.body or b""),
    )


def _require_https_443(parsed: ParsedUrl) -> None:
    if parsed.scheme != "https":
        raise EgressError("https_required", reason="scheme", host=parsed.host)
    if parsed.port != 443:
        raise EgressError(
            "https_required",
            reason="port",
            host=parsed.host,
            detail=f"Port {parsed.port} is not allowed; tools may reach port 443 only.",
        )


def _check_domain_lock(parsed: ParsedUrl, policy: EgressPolicy) -> None:
    if policy.allowed_domain is None:
        return

    try:
        domain = normalize_host(policy.allowed_domain)
    except EgressError:
        raise EgressError(
            "domain_lock_failed",
            reason="allowed_domain_invalid",
            host=parsed.host,
            detail="The approved integration domain is not a valid host name.",
        ) from None
    if not host_in_domain(parsed.host, domain):
        raise EgressError(
            "domain_lock_failed",
            reason="outside_domain",
            host=parsed.host,
            detail=f"The host is not {domain} or one of its subdomains.",
        )


def host_in_domain(host: str, domain: str) -> bool:
    """Tell whether normalised `host` equals normalised `domain` or is a subdomain."""
    if host == domain:
        return True
    if _is_ip(domain):
        return False
    return host.endswith("." + domain)


def _check_deny_list(parsed: ParsedUrl) -> None:
    for entry in settings.SECOND_EGRESS_DENY_DOMAINS:
        try:
            denied = normalize_host(entry)
        except EgressError:
            # Settings validation owns malformed entries; a raw comparison still
            # catches the exact value.
            denied = entry.lower().rstrip(".")
        if host_in_domain(parsed.host, denied):
            raise EgressError(
                "domain_lock_failed",
                reason="deny_list",
                host=parsed.host,
                detail=f"{denied} is on SECOND_EGRESS_DENY_DOMAINS.",
            )


def _public_host_and_port() -> tuple[str | None, int | None]:
    public = getattr(settings, "SECOND_PUBLIC", None) or {}
    raw_host = str(public.get("host") or "")
    if not raw_host:
        return None, None
    try:
        host = normalize_host(raw_host)
    except EgressError:
        host = raw_host.lower().strip("[]").rstrip(".")
    port = public.get("port")
    return host, int(port) if port else None


def _check_own_origin_host(parsed: ParsedUrl, local_mode: bool) -> None:
    # Outside local mode the product's host is refused on every port. Local mode
    # refuses its exact host and port only, so stand-ins on other loopback ports
    # stay reachable.
    public_host, public_port = _public_host_and_port()
    if public_host is None or parsed.host != public_host:
        return
    if local_mode and parsed.port != public_port:
        return
    raise _own_origin(parsed)


def _check_own_origin_addresses(
    parsed: ParsedUrl, addresses: tuple[str, ...], local_mode: bool
) -> None:
    # A second name for the product's address reaches the product too: an IP
    # literal public host, or in local mode "localhost" for 127.0.0.1.
    public_host, public_port = _public_host_and_port()
    if public_host is None:
        return
    if local_mode and parsed.port != public_port:
        return

    if _is_ip(public_host):
        public_address = ipaddress.ip_address(public_host)
        if any(ipaddress.ip_address(a) == public_address for a in addresses):
            raise _own_origin(parsed)
    all_loopback = all(is_plain_loopback(address) for address in addresses)
    if local_mode and _is_loopback_name(public_host) and all_loopback:
        raise _own_origin(parsed)


def _is_loopback_name(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    return _is_ip(host) and is_plain_loopback(host)


def _own_origin(parsed: ParsedUrl) -> EgressError:
    return EgressError(
        "domain_lock_failed",
        reason="own_origin",
        host=parsed.host,
        detail="This is the product's own address (SECOND_PUBLIC_URL); tools must "
        "not call back into the product.",
    )


def _check_addresses(
    parsed: ParsedUrl,
    resolution: resolver.Resolution,
    policy: EgressPolicy,
    local_mode: bool,
) -> str | None:
    """Apply the public-address rule and return the waiver that skipped it, if any."""
    addresses = resolution.addresses
    if local_mode and all(is_plain_loopback(address) for address in addresses):
        return WAIVER_LOCAL_LOOPBACK

    if resolution.source == resolver.SOURCE_TEST_MAP:
        _require_https_443(parsed)
        return WAIVER_TEST_MAP
    if policy.operator_hosts_allowed and _is_operator_host(parsed):
        _require_https_443(parsed)
        return WAIVER_OPERATOR_HOST

    for address in addresses:
        reason = classify(address)
        if reason is not None:
            raise EgressError(
                "private_ip_blocked",
                reason=reason,
                host=parsed.host,
                detail=f"The host resolves to {address}, which is not public.",
            )

    # Local mode postponed this check until the addresses were known.
    _require_https_443(parsed)
    return None


def _is_operator_host(parsed: ParsedUrl) -> bool:
    pair = f"{parsed.host_for_url}:{parsed.port}"
    for entry in settings.SECOND_EGRESS_OPERATOR_HOSTS:
        host, _colon, port = entry.strip().rpartition(":")
        try:
            normalized = normalize_host(host)
        except EgressError:
            continue
        if f"{_bracket_ipv6(normalized)}:{port}" == pair:
            return True
    return False


def _bracket_ipv6(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _check_method(method: str) -> str:
    normalized = method.upper() if isinstance(method, str) else ""
    if normalized not in ALLOWED_METHODS:
        raise EgressError(
            "url_invalid",
            reason="method",
            detail="The HTTP method must be one of "
            + ", ".join(sorted(ALLOWED_METHODS))
            + ".",
        )
    return normalized


def _check_request_size(request: OutboundRequest) -> None:
    size = len(request.body or b"")
    if size <= MAX_REQUEST_BODY_BYTES:
        return

    try:
        host = parse_url(request.url).host
    except EgressError:
        host = None
    raise EgressError(
        "request_too_large",
        reason="body",
        host=host,
        detail=f"The request body is {size} bytes, over the limit of "
        f"{MAX_REQUEST_BODY_BYTES} bytes.",
    )


def _request_headers(headers: dict[str, str], parsed: ParsedUrl) -> dict[str, str]:
    checked: dict[str, str] = {}
    for name, value in headers.items():
        _check_header(name, value, parsed)
        checked[name] = value

    checked["Host"] = parsed.host_header
    if not any(name.lower() == "user-agent" for name in checked):
        checked["User-Agent"] = DEFAULT_USER_AGENT
    return checked


def _check_header(name: str, value: str, parsed: ParsedUrl) -> None:
    if not isinstance(name, str) or not _HEADER_NAME_RE.fullmatch(name):
        raise EgressError(
            "url_invalid",
            reason="header_name",
            host=parsed.host,
            detail="A header name is not a valid HTTP token.",
        )
    if name.lower() in RESERVED_HEADERS:
        raise EgressError(
            "url_invalid",
            reason="reserved_header",
            host=parsed.host,
            detail=f"The client sets the {name} header itself; remove it.",
        )
    if not isinstance(value, str) or not _HEADER_VALUE_RE.fullmatch(value):
        raise EgressError(
            "url_invalid",
            reason="header_value",
            host=parsed.host,
            detail=f"The value of header {name} contains a control character.",
        )


def _log_refusal(error: EgressError, policy: EgressPolicy) -> None:
    logger.info(
        "Outbound request rejected or failed: code=%s reason=%s fine_reason=%s "
        "host=%s purpose=%s",
        error.code,
        error.public_reason,
        error.reason,
        error.host,
        policy.purpose,
    )
