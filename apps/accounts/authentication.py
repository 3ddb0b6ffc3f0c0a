"""API authentication: personal API tokens and Django sessions with CSRF."""

import logging

from django.utils import timezone
from rest_framework import authentication, exceptions

from apps.accounts.selectors import api_token_find_active

logger = logging.getLogger(__name__)


class IdentityRequired(exceptions.NotAuthenticated):
    error_code = "identity_required"
    default_detail = (
        "Sign in or send `Authorization: Bearer <personal API token>` to use the API."
    )


class InvalidToken(exceptions.AuthenticationFailed):
    error_code = "invalid_token"
    default_detail = (
        "The bearer token is invalid, expired or revoked; create a new personal API "
        "token with POST /api/me/tokens."
    )


def bearer_token(request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


class PersonalTokenAuthentication(authentication.BaseAuthentication):
    """Authenticate `Authorization: Bearer pat_…`; other bearer kinds pass through."""

    keyword = "Bearer"

    def authenticate(self, request):
        token = bearer_token(request)
        if token is None or not token.startswith("pat_"):
            return None
        api_token = api_token_find_active(token=token)
        if api_token is None or not api_token.user.is_active:
            raise InvalidToken()
        if _idle_at_provider(api_token.user):
            logger.info("personal token rejected: user=%s idle", api_token.user.pk)
            raise IdleAccountToken()
        _touch_last_used(api_token)
        return (api_token.user, api_token)

    def authenticate_header(self, request) -> str:
        return self.keyword


class IdleAccountToken(exceptions.AuthenticationFailed):
    error_code = "invalid_token"
    default_detail = (
        "This account has not signed in at the identity provider recently, so its "
        "personal tokens are refused; sign in through the browser, then retry."
    )


def _idle_at_provider(user) -> bool:
    """Tell whether external mode refuses this user's personal tokens as idle."""
    from datetime import timedelta

    from django.conf import settings

    if settings.SECOND_AUTH_MODE != "external":
        return False
    last = user.last_provider_login_at
    limit = timedelta(days=settings.SECOND_PAT_MAX_IDLE_DAYS)
    return last is None or timezone.now() - last > limit


def _touch_last_used(api_token) -> None:
    now = timezone.now()
    last = api_token.last_used_at
    # One write a minute per token is enough for "last used" and keeps reads cheap.
    if last is None or (now - last).total_seconds() > 60:
        type(api_token).objects.filter(pk=api_token.pk).update(last_used_at=now)


class CsrfSessionAuthentication(authentication.SessionAuthentication):
    """Django session authentication; DRF enforces CSRF on unsafe methods."""

    def authenticate_header(self, request) -> str:
        return "Session"


class ProviderTokenAuthentication(authentication.BaseAuthentication):
    """Authenticate a provider's bearer token in external mode.

    A `pat_` token never gets here: PersonalTokenAuthentication takes it first,
    so it is never sent to the provider. Other tokens are checked at the
    provider's userinfo endpoint, and the result is cached by the token's hash
    for at most 60 s.
    """

    keyword = "Bearer"

    def authenticate(self, request):
        from django.conf import settings

        token = bearer_token(request)
        if (
            token is None
            or token.startswith(("pat_", "run_", "inv_"))
            or settings.SECOND_AUTH_MODE != "external"
        ):
            return None
        user = provider_token_user(token)
        if user is None or not user.is_active:
            raise ProviderTokenRejected()
        return (user, None)

    def authenticate_header(self, request) -> str:
        return self.keyword


class ProviderTokenRejected(exceptions.AuthenticationFailed):
    error_code = "invalid_token"
    default_detail = (
        "The identity provider did not accept this bearer token, or its account "
        "has not signed in here yet; sign in again and send a fresh token."
    )


def provider_token_user(token: str):
    """Return the user a provider token belongs to, or None; cached for 60 s."""
    import hashlib

    from django.conf import settings
    from django.core.cache import cache

    from apps.accounts.models import User
    from apps.accounts.oidc import LoginRejected, provider_userinfo

    key = "oidc-bearer:" + hashlib.sha256(token.encode()).hexdigest()
    cached = cache.get(key)
    if cached == "rejected":
        return None
    if cached:
        return User.objects.filter(pk=cached).first()

    try:
        claims = provider_userinfo(token)
    except LoginRejected:
        cache.set(key, "rejected", timeout=60)
        return None
    user = User.objects.filter(
        oidc_issuer=settings.OIDC_OP_ISSUER, oidc_subject=str(claims.get("sub", ""))
    ).first()
    cache.set(key, str(user.pk) if user else "rejected", timeout=60)
    return user
