"""Connected accounts: each user's tokens at a workspace's OAuth provider.

Tokens live in the secret store; the row keeps their references, the granted
scopes, the upstream identity and the state a tool call checks. Only the
account's own user revokes it, and removing a member revokes theirs.
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.audit.services import (
    Actor,
    AuditEntry,
    Source,
    Target,
    audit_record,
    short_hash,
)
from apps.integrations.models import ConnectedAccount, OAuthProviderConfig
from apps.integrations.oauth_configs import client_secret_read
from apps.integrations.oauth_http import TokenResponse, revoke_token
from apps.secret_store.models import StoredSecret
from apps.secret_store.store import SecretUnavailable, secret_store

logger = logging.getLogger(__name__)

REASON_NOT_CONNECTED = "connect your account"
REASON_REVOKED = "the account was revoked; connect it again"
REASON_SCOPES = "the account lacks scopes the approved tools need; reconnect it"


def account_target(account: ConnectedAccount) -> Target:
    return Target(
        type="connected_account",
        id=str(account.pk),
        name=account.config.provider_key,
        parent=str(account.config_id),
    )


def scopes_of(token: TokenResponse, requested: list[str]) -> list[str]:
    """Return the granted scopes: the response's `scope`, else what was asked."""
    if token.scope:
        return sorted(set(token.scope.split()))
    return sorted(set(requested))


def expiry_of(token: TokenResponse):
    if token.expires_in is None:
        return None
    return timezone.now() + timedelta(seconds=max(token.expires_in, 0))


def _write_token(account, field: str, value: str) -> StoredSecret:
    """Store or replace one token of the account; returns the stored row."""
    store = secret_store()
    current = getattr(account, field)
    if current is not None:
        return store.rotate(current, value=value)
    return store.put(
        workspace_id=account.workspace_id,
        purpose=f"oauth-account:{account.pk}:{field}",
        value=value,
    )


def tokens_save(account: ConnectedAccount, token: TokenResponse) -> None:
    """Save a token response on the account; a missing refresh token keeps the old.

    Raises SecretUnavailable when the store fails.
    """
    account.access_token = _write_token(account, "access_token", token.access_token)
    if token.refresh_token:
        account.refresh_token = _write_token(
            account, "refresh_token", token.refresh_token
        )
    account.access_expires_at = expiry_of(token)
    if token.scope:
        account.granted_scopes = sorted(set(token.scope.split()))


def account_connect(
    *,
    config: OAuthProviderConfig,
    user,
    token: TokenResponse,
    requested_scopes: list[str],
    identity: dict,
    actor: Actor,
    source: Source,
) -> ConnectedAccount:
    """Create or reconnect the user's account with a fresh token response."""
    with transaction.atomic():
        account, created = ConnectedAccount.objects.select_for_update().get_or_create(
            config=config, user=user, defaults={"workspace_id": config.workspace_id}
        )
        previous_sub = account.upstream_sub
        tokens_save(account, token)
        account.granted_scopes = scopes_of(token, requested_scopes)
        account.upstream_sub = str(identity.get("sub") or "")[:255]
        account.upstream_email = str(identity.get("email") or "")[:254]
        account.client_id = config.client_id
        account.status = ConnectedAccount.Status.ACTIVE
        account.status_reason = ""
        account.connected_at = timezone.now()
        account.revoked_at = None
        account.save()

    identity_changed = bool(
        previous_sub and account.upstream_sub and previous_sub != account.upstream_sub
    )
    audit_record(
        workspace=config.workspace,
        entry=AuditEntry(
            event_name="oauth.connected",
            outcome="success",
            summary=f"{actor.display} connected an account at {config.provider_key}"
            + (" (another upstream identity than before)" if identity_changed else ""),
            actor=actor,
            source=source,
            target=account_target(account),
            metadata={
                "scopes": account.granted_scopes,
                "reconnected": not created,
                "identityChanged": identity_changed,
                "upstreamSubHash": _short_hash(account.upstream_sub),
            },
        ),
    )
    logger.info("oauth account connected: account=%s", account.pk)
    return account


def _short_hash(value: str) -> str | None:
    return short_hash(value) or None


def account_mark(account: ConnectedAccount, status: str, reason: str) -> None:
    """Set the account's status and the reason shown to its user."""
    account.status = status
    account.status_reason = reason
    account.save(update_fields=["status", "status_reason", "updated_at"])


def _delete_tokens(account: ConnectedAccount) -> None:
    store = secret_store()
    for field in ("access_token", "refresh_token"):
        stored = getattr(account, field)
        if stored is None:
            continue
        try:
            store.delete(stored)
        except SecretUnavailable:
            logger.warning(
                "oauth token not deleted: account=%s field=%s", account.pk, field
            )
            raise
        setattr(account, field, None)


def _revoke_at_provider(account: ConnectedAccount) -> bool:
    """Revoke the refresh token (or the access token) at the provider, best-effort."""
    config = account.config
    if not config.revocation_url:
        return False
    store = secret_store()
    try:
        secret = client_secret_read(config)
        for field, hint in (
            ("refresh_token", "refresh_token"),
            ("access_token", "access_token"),
        ):
            stored = getattr(account, field)
            if stored is None:
                continue
            value = store.read(stored)
            if value:
                return revoke_token(config, secret, value, hint)
    except SecretUnavailable:
        logger.warning("oauth revocation skipped: account=%s", account.pk)
    return False


def account_revoke(
    *, account: ConnectedAccount, actor: Actor, source: Source, reason: str
) -> ConnectedAccount:
    """Revoke the account at the provider where supported and delete its tokens."""
    revoked_upstream = _revoke_at_provider(account)
    _delete_tokens(account)
    account.status = ConnectedAccount.Status.REVOKED
    account.status_reason = REASON_REVOKED
    account.revoked_at = timezone.now()
    account.access_expires_at = None
    account.save()

    audit_record(
        workspace=account.config.workspace,
        entry=AuditEntry(
            event_name="oauth.revoked",
            outcome="success",
            summary=f"{actor.display} revoked an account at "
            f"{account.config.provider_key}: {reason}",
            actor=actor,
            source=source,
            target=account_target(account),
            metadata={"revokedAtProvider": revoked_upstream, "reason": reason},
        ),
    )
    logger.info(
        "oauth account revoked: account=%s upstream=%s", account.pk, revoked_upstream
    )
    return account


def accounts_revoke_for_user(
    *, workspace, user, actor: Actor, source: Source, reason: str, provider_key=None
) -> int:
    """Revoke every live account of `user` in `workspace`; return how many."""
    accounts = (
        ConnectedAccount.objects.filter(workspace=workspace, user=user)
        .exclude(status=ConnectedAccount.Status.REVOKED)
        .select_related("config")
    )
    if provider_key:
        accounts = accounts.filter(config__provider_key=provider_key)
    count = 0
    for account in accounts:
        account_revoke(account=account, actor=actor, source=source, reason=reason)
        count += 1
    return count


def accounts_mark_short_scopes(*, workspace_id, required: dict[str, set[str]]) -> int:
    """Mark accounts needing reconnection when they lack a required scope.

    `required` maps providerKey to the scopes the approved tools need.
    """
    marked = 0
    accounts = ConnectedAccount.objects.filter(
        workspace_id=workspace_id,
        status=ConnectedAccount.Status.ACTIVE,
        config__provider_key__in=list(required),
    ).select_related("config")
    for account in accounts:
        missing = required[account.config.provider_key] - set(account.granted_scopes)
        if missing:
            account_mark(
                account, ConnectedAccount.Status.NEEDS_RECONNECT, REASON_SCOPES
            )
            marked += 1
    if marked:
        logger.info("oauth accounts need reconnection: count=%s", marked)
    return marked
