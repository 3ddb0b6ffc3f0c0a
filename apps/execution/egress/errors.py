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
    "dns_failure": "check that the host name exists and resolves",
    "egress_timeout": "retry later or ask for a smaller response",
    "connection_failed": "check that the host accepts connections on that port",
    "tls_failed": "check the host's certificate and TLS configuration",
}

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
    `userinfo`. `host` is the sanitised destination host, and `redirect_host` the
    sanitised host of a refused redirect's Location.
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
