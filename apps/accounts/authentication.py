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
        _touch_last_used(api_token)
        return (api_token.user, api_token)

    def authenticate_header(self, request) -> str:
        return self.keyword


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
