"""The token broker: a usable access token for one connected account.

An access token more than 60 s from expiry is used as it is. Otherwise one
process refreshes it. On PostgreSQL it holds a row lock on the account, in a
short transaction of its own that ends before the tool's upstream call. On
SQLite it holds a process lock, because local mode runs tasks in one process.
The account is re-read inside the lock, so callers that waited use the token
the first one fetched instead of refreshing again.
"""

import logging
import threading
from datetime import timedelta

from django.db import OperationalError, connection, transaction
from django.utils import timezone

from apps.audit.services import Actor, AuditEntry, Source, audit_record
from apps.integrations.connected_accounts import (
    REASON_REVOKED,
    account_target,
    tokens_save,
)
from apps.integrations.models import ConnectedAccount
from apps.integrations.oauth_configs import client_secret_read
from apps.integrations.oauth_http import OAuthError, token_request
from apps.secret_store.store import SecretUnavailable, secret_store

logger = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(seconds=60)
LOCK_TIMEOUT = "5s"

_process_locks: dict[str, threading.Lock] = {}
_process_locks_guard = threading.Lock()


class AccountUnusable(Exception):
    """Error raised while the account cannot make calls until its user reconnects."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class BrokerFailed(Exception):
    """The broker could not produce a token now; `retryable` when a retry may."""

    def __init__(self, code: str, *, retryable: bool) -> None:
        self.code = code
        self.retryable = retryable
        super().__init__(f"token broker failed: {code}")


def _fresh(account: ConnectedAccount) -> bool:
    expires = account.access_expires_at
    return expires is None or expires - timezone.now() > REFRESH_MARGIN


def _usable(account: ConnectedAccount) -> None:
    if account.status != ConnectedAccount.Status.ACTIVE:
        raise AccountUnusable(account.status_reason or REASON_REVOKED)
    if account.access_token_id is None:
        raise AccountUnusable(REASON_REVOKED)


def _read_access(account: ConnectedAccount) -> str:
    try:
        value = secret_store().read(account.access_token)
    except SecretUnavailable as error:
        raise BrokerFailed("secret_read_failed", retryable=True) from error
    if not value:
        raise AccountUnusable(REASON_REVOKED)
    return value


def access_token_for(account_id) -> str:
    """Return a usable access token for the account; refresh it when due.

    Raises AccountUnusable (mock data and a reconnect hint for the caller) or
    BrokerFailed.
    """
    account = ConnectedAccount.objects.select_related("config", "access_token").get(
        pk=account_id
    )
    _usable(account)
    if _fresh(account):
        return _read_access(account)

    if connection.vendor == "postgresql":
        outcome = _refresh_under_row_lock(account_id)
    else:
        with _process_lock(str(account_id)):
            outcome = _refresh_locked(account_id)
    # Failures are raised only here, after the transaction that recorded them
    # has committed.
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def _process_lock(key: str) -> threading.Lock:
    with _process_locks_guard:
        return _process_locks.setdefault(key, threading.Lock())


def _refresh_under_row_lock(account_id):
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            return _refresh_locked(account_id, lock_row=True)
    except OperationalError as error:
        # lock_timeout expired: another process holds the refresh too long.
        logger.warning("oauth refresh lock contention: account=%s", account_id)
        raise BrokerFailed("lock_contention", retryable=True) from error


def _refresh_locked(account_id, *, lock_row: bool = False) -> str | Exception:
    """Refresh the account's tokens unless another caller just did.

    Returns the access token, or the exception to raise once the enclosing
    transaction has committed the failure's state and audit event.
    """
    accounts = ConnectedAccount.objects.select_related(
        "config", "access_token", "refresh_token"
    )
    if lock_row:
        accounts = accounts.select_for_update(of=("self",))
    account = accounts.get(pk=account_id)
    try:
        _usable(account)
    except AccountUnusable as error:
        return error
    if _fresh(account):
        return _read_access(account)

    if account.refresh_token_id is None:
        return _fail(account, "no_refresh_token", revoked=True, retryable=False)
    try:
        refresh = secret_store().read(account.refresh_token)
        client_secret = client_secret_read(account.config)
    except SecretUnavailable:
        return BrokerFailed("secret_read_failed", retryable=True)

    try:
        token = token_request(
            account.config,
            client_secret,
            {"grant_type": "refresh_token", "refresh_token": refresh or ""},
        )
    except OAuthError as error:
        revoked = error.code == "invalid_grant"
        return _fail(account, error.code, revoked=revoked, retryable=error.retryable)

    tokens_save(account, token)
    account.refreshed_at = timezone.now()
    account.save()
    _audit(
        account,
        "oauth.token_refreshed",
        "success",
        {"refreshRotated": bool(token.refresh_token)},
    )
    logger.info("oauth token refreshed: account=%s", account.pk)
    return token.access_token


def _fail(account, code: str, *, revoked: bool, retryable: bool) -> Exception:
    """Audit a failed refresh and return the error; `invalid_grant` ends the account."""
    if revoked:
        account.status = ConnectedAccount.Status.REVOKED
        account.status_reason = REASON_REVOKED
        account.revoked_at = timezone.now()
        account.save(
            update_fields=["status", "status_reason", "revoked_at", "updated_at"]
        )
    _audit(
        account, "oauth.refresh_failed", "failure", {"error": code, "revoked": revoked}
    )
    logger.warning(
        "oauth refresh failed: account=%s error=%s revoked=%s",
        account.pk,
        code,
        revoked,
    )
    if revoked:
        return AccountUnusable(REASON_REVOKED)
    return BrokerFailed(code, retryable=retryable)


def _audit(account: ConnectedAccount, event_name: str, outcome: str, metadata) -> None:
    audit_record(
        workspace=account.config.workspace,
        entry=AuditEntry(
            event_name=event_name,
            outcome=outcome,
            summary=f"{event_name.split('.', 1)[1].replace('_', ' ')} for an account "
            f"at {account.config.provider_key}",
            actor=Actor.system("token broker"),
            source=Source(kind="worker", trust="server"),
            target=account_target(account),
            metadata=metadata,
        ),
    )
