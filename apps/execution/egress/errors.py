"""The one error type of the egress client, its codes and their result categories.

Messages name the host and what to do next. They never contain a URL's path or
query, a header value or a body, because those may carry secrets that templates
injected.
"""

from typing import Literal

EgressCode = Literal[
    "url_invalid",
    "https_required",
    "domain_lock_failed",
    "private_ip_blocked",
    "provider_redirect",
    "response_too_large",
    "request_too_large",
    "dns_failure",
    "egress_timeout",
    "connection_failed",
    "tls_failed",
]

EGRESS_CODES: frozenset[str] = frozenset(EgressCode.__args__)  # type: ignore[attr-defined]

# errorCategory values of the tool-execution result. Refusals before any connection
# are faults of the tool's URL or approval, so they count as input.
_CATEGORIES: dict[str, str] = {
    "url_invalid": "input",
    "https_required": "input",
    "domain_lock_failed": "input",
    "private_ip_blocked": "input",
    "provider_redirect": "provider",
    "response_too_large": "response_limit",
    "request_too_large": "input",
    "dns_failure": "network",
    "egress_timeout": "timeout",
    "connection_failed": "network",
    "tls_failed": "network",
}

# The fix an operator or builder can make for each code.
_ADVICE: dict[str, str] = {
    "url_invalid": "fix the tool's URL template",
    "https_required": "use an https URL on port 443",
    "domain_lock_failed": "call a host inside the approved integration domain",
    "private_ip_blocked": "point the domain at a public address",
    "provider_redirect": "call the final URL directly, as redirects are not followed",
    "response_too_large": "request a smaller response, such as one page of results",
    "request_too_large": "send a request body of at most 1 MiB",
    "dns_failure": "check that the host name exists and resolves",
    "egress_timeout": "retry later or ask for a smaller response",
    "connection_failed": "check that the host accepts connections on that port",
    "tls_failed": "check the host's certificate and TLS configuration",
}

# Phases of a call that a timeout names, in the order they happen.
TIMEOUT_PHASES = ("dns", "connect", "tls", "headers", "body")

# Coarse reasons shown to callers and dashboards next to the finer `reason`. Each
# names the rule or phase that stopped the call. `host` covers every problem of
# the destination or of the request to it that no other value names: the domain
# lock, the deny list, the product's own origin, URL syntax, request headers and
# connections that fail or are refused.
PUBLIC_REASONS: frozenset[str] = frozenset(
    {"scheme", "host", "port", "userinfo", "dns", "redirect", "size", "tls"}
    | {f"timeout:{phase}" for phase in TIMEOUT_PHASES}
)
IP_REASON_PREFIX = "ip:"

# The fine reasons of url_invalid and https_required that name a URL part of
# their own. Every other fine reason of those codes is a problem of the host or
# of the request as a whole.
_URL_PART_REASONS = {"scheme": "scheme", "port": "port", "userinfo": "userinfo"}

# Codes whose coarse reason does not depend on the fine reason.
_CODE_REASONS = {
    "domain_lock_failed": "host",
    "provider_redirect": "redirect",
    "response_too_large": "size",
    "request_too_large": "size",
    "dns_failure": "dns",
    "tls_failed": "tls",
}


def public_reason(code: str, reason: str | None) -> str:
    """Return the coarse reason of an egress error with `code` and fine `reason`.

    The result is one of PUBLIC_REASONS or `ip:<range>`, where the range is the
    address table's reason, such as `ip:private` or `ip:metadata`.
    """
    if code in _CODE_REASONS:
        return _CODE_REASONS[code]
    if code == "private_ip_blocked":
        return IP_REASON_PREFIX + (reason or "reserved")
    if code == "egress_timeout":
        phase = reason if reason in TIMEOUT_PHASES else "body"
        return f"timeout:{phase}"
    if code == "connection_failed" and reason == "decode":
        # urllib3 refuses a Content-Encoding chain longer than five entries, a
        # bound on the work of decoding, so it counts as a size limit.
        return "size"
    if code in ("url_invalid", "https_required"):
        return _URL_PART_REASONS.get(reason or "", "host")
    return "host"


def is_public_reason(value: str) -> bool:
    """Tell whether `value` belongs to the coarse reason vocabulary."""
    if value.startswith(IP_REASON_PREFIX):
        return len(value) > len(IP_REASON_PREFIX)
    return value in PUBLIC_REASONS


# Characters a host may contain once it is shown in a message or a log line.
_HOST_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-:[]")
_MAX_HOST_LENGTH = 255


def sanitize_host(value: str | None) -> str | None:
    """Return `value` lower-cased if it looks like a host, otherwise None.

    Hosts come from attacker-controlled URLs and Location headers, so anything
    outside the characters of a host name or IP literal is dropped whole.
    """
    if not value:
        return None
    host = value.lower()
    if len(host) > _MAX_HOST_LENGTH or not set(host) <= _HOST_CHARACTERS:
        return None
    return host


class EgressError(Exception):
    """An outbound request that was refused or failed, with a stable code and reason.

    `code` is one of EGRESS_CODES and `reason` a finer token such as `loopback` or
    `userinfo`, and `public_reason` its coarse form (see PUBLIC_REASONS). `host`
    is the sanitised destination host, and `redirect_host` the sanitised host of
    a refused redirect's Location.
    """

    def __init__(
        self,
        code: EgressCode,
        *,
        reason: str | None = None,
        host: str | None = None,
        redirect_host: str | None = None,
        detail: str | None = None,
    ) -> None:
        if code not in EGRESS_CODES:
            raise ValueError(f"Unknown egress error code {code!r}.")
        self.code = code
        self.reason = reason
        self.host = sanitize_host(host)
        self.redirect_host = sanitize_host(redirect_host)
        self.detail = detail
        super().__init__(self._message())

    @property
    def public_reason(self) -> str:
        """The coarse reason, such as `ip:private` or `timeout:tls`."""
        return public_reason(self.code, self.reason)

    @property
    def category(self) -> str:
        """The tool result's errorCategory for this code."""
        return error_category(self.code)

    def as_details(self) -> dict[str, str]:
        """Return the code, reason and hosts as a dict for results and audit events."""
        details = {"code": self.code}
        if self.reason:
            details["reason"] = self.reason
        if self.host:
            details["host"] = self.host
        if self.redirect_host:
            details["redirectHost"] = self.redirect_host
        return details

    def public_details(self) -> dict[str, str]:
        """Return the coarse reason and the hosts, for the caller's `details`.

        Only sanitised hosts appear next to the reason, never a URL's path or
        query, a header value or a body.
        """
        details = {"reason": self.public_reason}
        if self.host:
            details["host"] = self.host
        if self.redirect_host:
            details["redirectHost"] = self.redirect_host
        return details

    def _message(self) -> str:
        target = f" for host {self.host}" if self.host else ""
        reason = f" ({self.reason})" if self.reason else ""
        text = f"Outbound request refused or failed{target}: {self.code}{reason}."
        if self.redirect_host:
            text += f" The provider redirected to host {self.redirect_host}."
        if self.detail:
            text += f" {self.detail}"
        return f"{text} To fix: {_ADVICE[self.code]}."


def error_category(code: str) -> str:
    """Return the errorCategory (input, provider, network, timeout, response_limit)."""
    return _CATEGORIES.get(code, "network")
