"""Reads of accounts and personal API tokens."""

from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.accounts.models import PersonalApiToken, User
from apps.core.tokens import token_matches, token_prefix
from apps.workspaces.selectors import parse_id


def api_token_find_active(*, token: str) -> PersonalApiToken | None:
    """Return the unrevoked, unexpired token row that `token` proves, else None."""
    prefix = token_prefix("pat", token)
    if prefix is None:
        return None
    now = timezone.now()
    api_token = (
        PersonalApiToken.objects.select_related("user")
        .filter(prefix=prefix, revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .first()
    )
    if api_token is None or not token_matches("pat", token, api_token.token_hash):
        return None
    return api_token


def user_find(*, identifier: str) -> User | None:
    """Find an account by username or email (case-insensitive email)."""
    user = User.objects.filter(username=identifier).first()
    if user is None and "@" in identifier:
        user = User.objects.filter(email__iexact=identifier).first()
    return user


def api_tokens_for_user(*, user) -> QuerySet[PersonalApiToken]:
    """Return all tokens of `user`, newest first, revoked and expired included."""
    return PersonalApiToken.objects.filter(user=user).order_by("-created_at")


def api_token_find_for_user(*, user, token_id) -> PersonalApiToken | None:
    """Return the token `token_id` if `user` owns it, else None."""
    parsed = parse_id(token_id)
    if parsed is None:
        return None
    return (
        api_tokens_for_user(user=user).select_related("user").filter(pk=parsed).first()
    )


def api_token_find(*, token_id) -> PersonalApiToken | None:
    """Return the token `token_id` of any user, for operators' commands."""
    parsed = parse_id(token_id)
    if parsed is None:
        return None
    return PersonalApiToken.objects.select_related("user").filter(pk=parsed).first()
