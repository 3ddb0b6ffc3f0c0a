from django.db.models import Q
from django.utils import timezone

from apps.accounts.models import PersonalApiToken, User
from apps.core.tokens import token_matches, token_prefix


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
