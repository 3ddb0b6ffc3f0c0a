"""The connect flow: the authorization request and the provider's callback.

State is 32 random bytes, kept in the cache for 10 minutes under its SHA-256
and taken out exactly once. It binds the workspace, the user, the config, the
PKCE S256 verifier and a same-origin return path.
"""

import base64
import hashlib
import logging
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from django.core.cache import cache

from apps.audit.services import Actor, AuditEntry, Source, Target, audit_record
from apps.core.errors import ApiError
from apps.integrations.connected_accounts import account_connect
from apps.integrations.models import IntegrationGrant, OAuthProviderConfig
from apps.integrations.oauth_configs import (
    client_secret_read,
    config_is_complete,
    redirect_uri,
)
from apps.integrations.oauth_http import OAuthError, token_request, userinfo
from apps.secret_store.store import SecretUnavailable

logger = logging.getLogger(__name__)

STATE_SECONDS = 600
STATE_PREFIX = "oauth-state:"


@dataclass(frozen=True)
class StartedFlow:
    authorization_url: str
    state: str

    def __repr__(self) -> str:
        return "StartedFlow(authorization_url=…, state=…)"


def _state_key(state: str) -> str:
    return STATE_PREFIX + hashlib.sha256(state.encode()).hexdigest()


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def safe_return_path(value: str | None) -> str:
    """Return `value` if it is a same-origin path, else "/"."""
    if not value:
        return "/"
    parts = urlsplit(value)
    if (
        parts.scheme
        or parts.netloc
        or not value.startswith("/")
        or value.startswith("//")
    ):
        return "/"
    if "\\" in value or any(ord(character) < 32 for character in value):
        return "/"
    return value


def requested_scopes(config: OAuthProviderConfig) -> list[str]:
    """Return the scopes the workspace's OAuth grants for this provider request."""
    scopes: set[str] = set()
    grants = IntegrationGrant.objects.filter(
        workspace_id=config.workspace_id,
        auth_type=IntegrationGrant.AuthType.OAUTH2,
        status=IntegrationGrant.Status.ACTIVE,
    )
    for grant in grants:
        if grant.auth.get("providerKey") == config.provider_key:
            scopes |= {s for s in grant.auth.get("scopes") or [] if isinstance(s, str)}
    return sorted(scopes)


def connect_start(
    *, config: OAuthProviderConfig, user, return_to: str | None
) -> StartedFlow:
    """Build the provider's authorization URL and remember the flow's state.

    Raises ApiError `oauth_provider_not_configured` while an admin has not
    completed the config.
    """
    if not config_is_complete(config):
        raise ApiError(
            "oauth_provider_not_configured",
            f"An admin must add the client of {config.provider_key} before accounts "
            "can be connected.",
            status_code=409,
        )
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    scopes = requested_scopes(config)
    cache.set(
        _state_key(state),
        {
            "workspace": str(config.workspace_id),
            "user": str(user.pk),
            "config": str(config.pk),
            "verifier": verifier,
            "returnTo": safe_return_path(return_to),
            "scopes": scopes,
        },
        timeout=STATE_SECONDS,
    )
    query = {
        **config.authorization_params,
        "response_type": "code",
        "client_id": config.client_id,
        "redirect_uri": redirect_uri(),
        "state": state,
        "code_challenge": _challenge(verifier),
        "code_challenge_method": "S256",
    }
    if scopes:
        query["scope"] = " ".join(scopes)
    separator = "&" if urlsplit(config.authorization_url).query else "?"
    logger.info("oauth connect started: config=%s user=%s", config.pk, user.pk)
    return StartedFlow(
        authorization_url=f"{config.authorization_url}{separator}{urlencode(query)}",
        state=state,
    )


def _take_state(state: str | None, user) -> dict:
    """Return the flow's state once; a replayed, expired or another user's is 400."""
    invalid = ApiError(
        "invalid_or_expired_oauth_state",
        "This sign-in link is unknown, expired or already used; start connecting "
        "the account again.",
    )
    if not state or len(state) > 200:
        raise invalid
    key = _state_key(state)
    data = cache.get(key)
    # delete() reports whether this caller removed the key, so of two callbacks
    # with the same state only one continues.
    if not data or not cache.delete(key):
        raise invalid
    if data.get("user") != str(user.pk):
        logger.warning("oauth callback by another user: user=%s", user.pk)
        raise invalid
    return data


def _failed(config, user, code: str, source: Source) -> None:
    audit_record(
        workspace=config.workspace,
        entry=AuditEntry(
            event_name="oauth.connect_failed",
            outcome="failure",
            summary=f"Connecting an account at {config.provider_key} failed: {code}",
            actor=Actor.for_user(user),
            source=source,
            target=Target(
                type="oauth_provider", id=str(config.pk), name=config.provider_key
            ),
            metadata={"error": code},
        ),
    )
    logger.info("oauth connect failed: config=%s code=%s", config.pk, code)


def connect_callback(*, params: dict, user, source: Source):
    """Finish the flow: check the state, exchange the code, store the account.

    Returns (account or None, return path, error code or None). Raises ApiError
    `invalid_or_expired_oauth_state` before anything changes.
    """
    data = _take_state(params.get("state"), user)
    config = OAuthProviderConfig.objects.select_related("workspace").get(
        pk=data["config"]
    )
    if params.get("error"):
        code = str(params["error"])[:64]
        _failed(config, user, code, source)
        return None, data["returnTo"], code
    if not params.get("code"):
        _failed(config, user, "missing_code", source)
        return None, data["returnTo"], "missing_code"

    try:
        token = token_request(
            config,
            client_secret_read(config),
            {
                "grant_type": "authorization_code",
                "code": str(params["code"]),
                "redirect_uri": redirect_uri(),
                "code_verifier": data["verifier"],
            },
        )
    except (OAuthError, SecretUnavailable) as error:
        code = getattr(error, "code", "secret_read_failed")
        _failed(config, user, code, source)
        return None, data["returnTo"], code

    identity = userinfo(config, token.access_token)
    account = account_connect(
        config=config,
        user=user,
        token=token,
        requested_scopes=data["scopes"],
        identity=identity,
        actor=Actor.for_user(user),
        source=source,
    )
    return account, data["returnTo"], None
