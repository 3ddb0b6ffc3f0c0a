"""Audit events of password sign-in, failed sign-in and sign-out.

Django sends its auth signals from every path that signs a person in or out
with a password: the admin login and logout, `/accounts/login/`,
`/accounts/logout/` and the `login()` after an invitation sign-up. The receivers
here write `auth.login`, `auth.login_failed` and `auth.logout` to the global
chain. The OpenID Connect backend and logout view write their own events with
the provider's reasons, so the receivers skip OIDC sessions and credentials.

A sign-in or failed sign-in whose event cannot be written is rejected with a
403. A sign-out ends the session even then, and the error is logged.
"""

import logging

from django.contrib.auth import BACKEND_SESSION_KEY, get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied

from apps.accounts.oidc import ProviderBackend
from apps.accounts.services import sign_in_record
from apps.audit.services import Actor, Source

logger = logging.getLogger(__name__)

OIDC_BACKEND = f"{ProviderBackend.__module__}.{ProviderBackend.__qualname__}"
PASSWORD_TRUST = "password"


class SignInNotAudited(PermissionDenied):
    """A sign-in rejected because its audit event could not be written."""

    def __init__(self) -> None:
        super().__init__(
            "Sign-in is unavailable because the audit log cannot be written. "
            "Try again later."
        )


def password_source(request) -> Source:
    if request is None:
        return Source(kind="web", trust=PASSWORD_TRUST)
    return Source.from_request(request, trust=PASSWORD_TRUST)


def _record(event_name: str, outcome: str, actor: Actor, user, metadata, request):
    sign_in_record(
        event_name=event_name,
        outcome=outcome,
        user=user,
        actor=actor,
        metadata=metadata,
        source=password_source(request),
    )


def _oidc_session(request) -> bool:
    return request.session.get(BACKEND_SESSION_KEY) == OIDC_BACKEND


def _named_user(credentials: dict):
    """Return the existing user that the typed username names, or None."""
    model = get_user_model()
    username = credentials.get("username", credentials.get(model.USERNAME_FIELD))
    if not isinstance(username, str) or not username:
        return None
    try:
        # The same lookup as ModelBackend, so the target is the account tried.
        return model._default_manager.get_by_natural_key(username)
    except model.DoesNotExist:
        return None


def login_failure_record(request, *, user, reason: str, actor: Actor) -> None:
    """Write `auth.login_failed`, or raise SignInNotAudited when that fails.

    `user` is the existing account the attempt named, or None. The event never
    carries the typed username or password.
    """
    metadata = {"method": "password", "reason": reason}
    try:
        _record("auth.login_failed", "failure", actor, user, metadata, request)
    except Exception as error:
        # Any failure to write the event, database or other, fails the request.
        user_id = user.pk if user else None
        logger.exception("audit write failed for a failed sign-in: user=%s", user_id)
        raise SignInNotAudited() from error


def on_user_logged_in(sender, request, user, **kwargs) -> None:
    """Write `auth.login`, or undo the sign-in and reject it when that fails."""
    if _oidc_session(request):
        return
    metadata = {"method": "password"}
    try:
        _record("auth.login", "success", Actor.for_user(user), user, metadata, request)
    except Exception as error:
        # A sign-in that cannot be audited is rejected. The session drops the
        # user here, because the session middleware still saves it on a 403.
        logger.exception("audit write failed, sign-in rejected: user=%s", user.pk)
        request.session.flush()
        request.user = AnonymousUser()
        raise SignInNotAudited() from error


def on_user_login_failed(sender, credentials, request=None, **kwargs) -> None:
    """Write `auth.login_failed` for a password that no backend accepted."""
    # Other credentials come from the OIDC callback, whose backend already wrote
    # the failure with the provider's reason.
    if "password" not in credentials:
        return
    # The typed username is neither stored nor logged, because people paste
    # passwords into the username box. Only a matching account's id is kept.
    user = _named_user(credentials)
    actor = Actor.system("anonymous")
    login_failure_record(request, user=user, reason="invalid_credentials", actor=actor)


def on_user_logged_out(sender, request, user, **kwargs) -> None:
    """Write `auth.logout`. The session ends even when that fails."""
    if user is None or _oidc_session(request):
        return
    try:
        _record("auth.logout", "success", Actor.for_user(user), user, {}, request)
    except Exception:
        # Sign-out goes ahead, because an audit outage must never keep a
        # session alive.
        logger.exception("audit write failed, sign-out completed: user=%s", user.pk)
