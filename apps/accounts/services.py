"""Writes of accounts and personal API tokens."""

import logging

from django.utils import timezone

from apps.accounts.models import PersonalApiToken
from apps.audit.services import Actor, AuditEntry, Source, Target, audit_record
from apps.core.errors import Conflict, ValidationFailed
from apps.core.tokens import issue_token
from apps.workspaces.selectors import memberships_for_user

logger = logging.getLogger(__name__)


def sign_in_record(
    *,
    event_name: str,
    outcome: str,
    user,
    actor: Actor | None = None,
    metadata: dict,
    source: Source,
) -> None:
    """Write a sign-in, failed sign-in or sign-out event to the global chain.

    `user` is the account it concerns, or None. `actor` defaults to that user,
    or to an anonymous system actor without one.
    """
    if actor is None:
        actor = Actor.for_user(user) if user else Actor.system("anonymous")
    audit_record(
        workspace=None,
        entry=AuditEntry(
            event_name=event_name,
            outcome=outcome,
            summary=f"{event_name} ({metadata.get('reason', outcome)})",
            actor=actor,
            source=source,
            target=Target(type="user", id=str(user.pk) if user else ""),
            metadata=metadata,
        ),
    )


def api_token_create(
    *, user, name: str, expires_at=None, actor: Actor | None = None, source: Source
) -> tuple[PersonalApiToken, str]:
    """Create a personal API token and return the row and the token, shown once.

    `actor` is who creates it: the user, unless an operator's command does.

    Raises ValidationFailed (`fields.expiresAt`) when `expires_at` is not in the
    future.
    """
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed(
            {"expiresAt": ["The expiry time must be in the future."]}
        )

    issued = issue_token("pat")
    api_token = PersonalApiToken.objects.create(
        user=user,
        name=name,
        prefix=issued.prefix,
        token_hash=issued.token_hash,
        expires_at=expires_at,
    )
    # The account may belong to several workspaces; each audit log records the
    # token, since it reaches all of them.
    for membership in memberships_for_user(user=user):
        audit_record(
            workspace=membership.workspace,
            entry=AuditEntry(
                event_name="api_token.created",
                outcome="success",
                summary=_token_summary(user, name, actor),
                actor=actor or Actor.for_user(user, membership.role),
                source=source,
                target=Target(type="api_token", id=str(api_token.pk), name=name),
                metadata={"prefix": api_token.prefix},
            ),
        )
    logger.info("api token created: user=%s token=%s", user.pk, api_token.pk)
    return api_token, issued.token


def _token_summary(user, name: str, actor: Actor | None) -> str:
    if actor is None:
        return f"{user.name} created the personal API token {name!r}"
    return f"{actor.display} created the personal API token {name!r} for {user.name}"


def api_token_revoke(
    *, api_token: PersonalApiToken, actor, source: Source
) -> PersonalApiToken:
    """Set `revoked_at` on the token, so it no longer authenticates.

    `actor` is the user who revokes it, the Actor of an operator's command, or
    None for an unnamed operator. Raises Conflict `api_token_already_revoked`
    when the token was revoked before.
    """
    now = timezone.now()
    updated = PersonalApiToken.objects.filter(
        pk=api_token.pk, revoked_at__isnull=True
    ).update(revoked_at=now)
    if not updated:
        raise Conflict(
            "api_token_already_revoked",
            f"The personal API token {api_token.pk} is already revoked.",
        )
    api_token.revoked_at = now

    user = api_token.user
    # Like its creation, the revocation is recorded in every workspace the token
    # reached.
    for membership in memberships_for_user(user=user):
        audit_record(
            workspace=membership.workspace,
            entry=AuditEntry(
                event_name="api_token.revoked",
                outcome="success",
                summary=f"The personal API token {api_token.name!r} of {user.name} "
                "was revoked",
                actor=_revoking_actor(actor, membership),
                source=source,
                target=Target(
                    type="api_token", id=str(api_token.pk), name=api_token.name
                ),
                metadata={"prefix": api_token.prefix},
            ),
        )
    logger.info("api token revoked: user=%s token=%s", user.pk, api_token.pk)
    return api_token


def _revoking_actor(actor, membership) -> Actor:
    if isinstance(actor, Actor):
        return actor
    if actor is None:
        return Actor.system("operator")
    role = membership.role if actor.pk == membership.user_id else ""
    return Actor.for_user(actor, role)
