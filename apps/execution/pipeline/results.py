"""Builders of final results: executed, failed, mocked and denied calls."""

import random

from apps.execution.pipeline.context import CallContext, Final

NO_MOCK_DATA = {"message": "No mock data is configured for this tool."}

MOCK_NOT_SET_UP = "integration not set up"
MOCK_NEEDS_SETUP = "integration needs setup"
MOCK_NO_SECRETS = "no secrets configured"
MOCK_MISSING_SECRET = "missing configured secret"
MOCK_ONLY_APPROVAL = "approved for mock-data development"
MOCK_OAUTH_NOT_CONFIGURED = "the OAuth provider is not configured"
MOCK_OAUTH_NOT_CONNECTED = "connect your account"


def mocked(ctx: CallContext, reason: str, *, extra: dict | None = None) -> Final:
    """Return one of the tool's mock results, chosen at random."""
    samples = ctx.spec.mock_data if ctx.spec else []
    data = random.choice(samples) if samples else NO_MOCK_DATA
    body = {
        "success": True,
        "data": data,
        "mock": True,
        "mockReason": reason,
        "statusCode": 200,
        **(extra or {}),
    }
    return Final(
        outcome="mocked", http_status=200, body=body, reason=reason, mock_reason=reason
    )


def denied(
    code: str,
    detail: str,
    *,
    status: int,
    retryable: bool | None = None,
    extra: dict | None = None,
) -> Final:
    """Refuse the call; the caller gets `{error, detail}` with `status`."""
    body = {"error": code, "detail": detail, **(extra or {})}
    if retryable is not None:
        body["retryable"] = retryable
    return Final(
        outcome="denied", http_status=status, body=body, reason=code, error_code=code
    )


def failed(
    code: str, detail: str, *, status: int, category: str = "", retryable: bool = False
) -> Final:
    """Fail the call on our side (store, audit, broker); the caller may retry."""
    body = {"error": code, "detail": detail, "retryable": retryable}
    return Final(
        outcome="failed",
        http_status=status,
        body=body,
        reason=code,
        error_code=code,
        error_category=category,
    )


UPSTREAM_CATEGORIES = {401: "credential", 403: "permission", 429: "rate_limit"}
RESOLUTIONS = {
    "credential": "An admin should check the integration's secret; it was refused.",
    "permission": "The credential lacks a permission this tool needs.",
    "input": "Check the tool input against the tool's description.",
    "rate_limit": "The provider is rate limiting; retry later.",
    "provider": "The provider failed; retry later.",
}


def upstream_category(status: int) -> str:
    if status in UPSTREAM_CATEGORIES:
        return UPSTREAM_CATEGORIES[status]
    if status >= 500:
        return "provider"
    return "input"


def upstream_result(*, status: int, data) -> Final:
    """Hand back the provider's response, with 4xx and 5xx as `success: false`."""
    if 200 <= status < 300:
        body = {"success": True, "data": data, "mock": False, "statusCode": status}
        return Final(
            outcome="executed", http_status=200, body=body, upstream_status=status
        )

    category = upstream_category(status)
    body = {
        "success": False,
        "data": data,
        "mock": False,
        "statusCode": status,
        "errorCode": f"upstream_{status}",
        "errorCategory": category,
        "resolution": RESOLUTIONS[category],
        "retryable": category in ("rate_limit", "provider"),
    }
    return Final(
        outcome="failed",
        http_status=200,
        body=body,
        reason=f"upstream answered {status}",
        error_code=f"upstream_{status}",
        error_category=category,
        upstream_status=status,
    )
