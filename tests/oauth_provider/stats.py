"""Counts of the requests that tests read back through GET /test/stats.

The server is one process that handles requests in threads, so the counts
live in memory behind a lock and start at zero with each process.
"""

import threading
from collections import Counter

TOKEN_VIEW = "oauth2_provider:token"
REVOKE_VIEW = "oauth2_provider:revoke-token"
USERINFO_VIEW = "oauth2_provider:user-info"

_lock = threading.Lock()
_token_requests: Counter[str] = Counter()
_token_failures: Counter[str] = Counter()
_revocations: Counter[str] = Counter()
_userinfo: Counter[str] = Counter()


def record(view_name: str, grant_type: str, status: int) -> None:
    """Count one completed request to a view that tests watch."""
    outcome = "ok" if status < 400 else "failed"
    with _lock:
        if view_name == TOKEN_VIEW:
            _token_requests[grant_type] += 1
            if status >= 400:
                _token_failures[grant_type] += 1
        elif view_name == REVOKE_VIEW:
            _revocations[outcome] += 1
        elif view_name == USERINFO_VIEW:
            _userinfo[outcome] += 1


def snapshot() -> dict[str, object]:
    """Return a copy of every count, as JSON-ready dictionaries."""
    with _lock:
        return {
            "token_requests": dict(_token_requests),
            "token_failures": dict(_token_failures),
            "revocations": sum(_revocations.values()),
            "revocations_failed": _revocations["failed"],
            "userinfo_requests": sum(_userinfo.values()),
            "userinfo_failed": _userinfo["failed"],
        }


class StatsMiddleware:
    """Count requests to the token, revocation and userinfo endpoints."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        grant_type = ""
        if request.method == "POST":
            # Django reads a form body into request.body before parsing it, so
            # the view can still parse the body after this.
            grant_type = request.POST.get("grant_type", "")
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        if match is not None:
            record(match.view_name, grant_type or "(none)", response.status_code)
        return response
