"""Requests to an OAuth provider's token and revocation endpoints.

Every request goes through the egress client, so provider URLs follow its
rules: https on port 443 and public addresses (loopback too in local mode).
The token endpoint gets 15 s per attempt and two retries on a 5xx response or a
network failure. Errors carry the provider's error code, never its body, and
token values never reach a log line or an exception message.
"""

import base64
import json
import logging
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from apps.execution.egress.client import EgressPolicy, OutboundRequest, send
from apps.execution.egress.errors import EgressError
from apps.integrations.models import OAuthProviderConfig

logger = logging.getLogger(__name__)

TOKEN_TIMEOUT_SECONDS = 15
TOKEN_RETRIES = 2
RETRYABLE_EGRESS_CODES = frozenset(
    {"dns_failure", "egress_timeout", "connection_failed", "tls_failed"}
)
POLICY = EgressPolicy(allowed_domain=None, purpose="oauth")


class OAuthError(Exception):
    """A provider request that failed: `code` is the provider's OAuth error code
    (`invalid_grant`, …) or ours (`provider_unreachable`, `invalid_response`)."""

    def __init__(self, code: str, *, retryable: bool, status: int | None = None):
        self.code = code
        self.retryable = retryable
        self.status = status
        super().__init__(f"OAuth provider request failed: {code}")


@dataclass(frozen=True)
class TokenResponse:
    """The fields of a successful token response the product keeps."""

    access_token: str
    refresh_token: str | None
    expires_in: int | None
    scope: str | None

    def __repr__(self) -> str:
        return f"TokenResponse(expires_in={self.expires_in!r}, scope={self.scope!r})"


def _client_auth(
    config: OAuthProviderConfig, client_secret: str | None
) -> tuple[dict[str, str], dict[str, str]]:
    """Return (form fields, headers) that authenticate the client."""
    method = config.token_auth_method
    if method == OAuthProviderConfig.TokenAuthMethod.CLIENT_SECRET_BASIC:
        # RFC 6749 section 2.3.1: both parts are form-encoded before base64.
        pair = (
            f"{quote(config.client_id, safe='')}:{quote(client_secret or '', safe='')}"
        )
        encoded = base64.b64encode(pair.encode()).decode()
        return {}, {"Authorization": f"Basic {encoded}"}
    if method == OAuthProviderConfig.TokenAuthMethod.NONE:
        return {"client_id": config.client_id}, {}
    return {"client_id": config.client_id, "client_secret": client_secret or ""}, {}


def _post_form(url: str, form: dict[str, str], headers: dict[str, str]):
    request = OutboundRequest(
        method="POST",
        url=url,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            **headers,
        },
        body=urlencode(form).encode(),
    )
    return send(request, policy=POLICY, deadline_seconds=TOKEN_TIMEOUT_SECONDS)


def _post_with_retries(config, url: str, form, headers, *, purpose: str):
    last_error: OAuthError | None = None
    for attempt in range(TOKEN_RETRIES + 1):
        try:
            response = _post_form(url, form, headers)
        except EgressError as error:
            retryable = error.code in RETRYABLE_EGRESS_CODES
            logger.warning(
                "oauth %s request failed: config=%s attempt=%s code=%s",
                purpose,
                config.pk,
                attempt + 1,
                error.code,
            )
            last_error = OAuthError("provider_unreachable", retryable=retryable)
            if retryable:
                continue
            raise last_error from error
        if response.status >= 500:
            logger.warning(
                "oauth %s request failed: config=%s attempt=%s status=%s",
                purpose,
                config.pk,
                attempt + 1,
                response.status,
            )
            last_error = OAuthError(
                "provider_error", retryable=True, status=response.status
            )
            continue
        return response
    raise last_error or OAuthError("provider_unreachable", retryable=True)


def _parse_token_response(config, response) -> TokenResponse:
    try:
        data = json.loads(response.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        data = None
    if not isinstance(data, dict):
        raise OAuthError("invalid_response", retryable=False, status=response.status)
    if response.status != 200:
        code = data.get("error") if isinstance(data.get("error"), str) else None
        logger.info(
            "oauth token request rejected: config=%s status=%s error=%s",
            config.pk,
            response.status,
            code,
        )
        raise OAuthError(
            code[:64] if code else "token_request_refused",
            retryable=False,
            status=response.status,
        )
    token = data.get("access_token")
    if not isinstance(token, str) or not token:
        raise OAuthError("invalid_response", retryable=False, status=response.status)
    refresh = data.get("refresh_token")
    expires = data.get("expires_in")
    scope = data.get("scope")
    return TokenResponse(
        access_token=token,
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        expires_in=int(expires) if isinstance(expires, int | float) else None,
        scope=scope if isinstance(scope, str) else None,
    )


def token_request(
    config: OAuthProviderConfig, client_secret: str | None, grant: dict[str, str]
) -> TokenResponse:
    """POST a grant (`authorization_code` or `refresh_token`) to the token URL.

    Raises OAuthError with the provider's error code, `retryable` when another
    attempt later may succeed.
    """
    fields, headers = _client_auth(config, client_secret)
    form = {**config.token_params, **grant, **fields}
    response = _post_with_retries(
        config, config.token_url, form, headers, purpose=grant.get("grant_type", "")
    )
    return _parse_token_response(config, response)


def revoke_token(
    config: OAuthProviderConfig,
    client_secret: str | None,
    token: str,
    token_type_hint: str,
) -> bool:
    """Revoke a token at the provider (RFC 7009); return whether it accepted.

    Returns False when the config has no revocation URL or the provider fails,
    because the stored token is deleted either way.
    """
    if not config.revocation_url:
        return False
    fields, headers = _client_auth(config, client_secret)
    form = {"token": token, "token_type_hint": token_type_hint, **fields}
    try:
        response = _post_with_retries(
            config, config.revocation_url, form, headers, purpose="revocation"
        )
    except OAuthError as error:
        logger.warning(
            "oauth revocation failed: config=%s code=%s", config.pk, error.code
        )
        return False
    return response.status == 200


def userinfo(config: OAuthProviderConfig, access_token: str) -> dict:
    """Return the provider's userinfo claims, or {} without a userinfo URL or on
    any failure, because identity is recorded, not required."""
    if not config.userinfo_url:
        return {}
    request = OutboundRequest(
        method="GET",
        url=config.userinfo_url,
        headers={
            "Authorization": f"Bearer {access_token}",
            "Accept": "application/json",
        },
    )
    try:
        response = send(request, policy=POLICY, deadline_seconds=TOKEN_TIMEOUT_SECONDS)
        data = json.loads(response.body.decode("utf-8"))
    except (EgressError, UnicodeDecodeError, ValueError):
        logger.info("oauth userinfo unavailable: config=%s", config.pk)
        return {}
    return data if isinstance(data, dict) and response.status == 200 else {}
