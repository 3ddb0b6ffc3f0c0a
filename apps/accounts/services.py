"""Writes of accounts and personal API tokens."""

import logging

from apps.accounts.models import PersonalApiToken
from apps.audit.services import Actor, AuditEntry, Source, Target, audit_record
from apps.core.tokens import issue_token
from apps.workspaces.selectors import memberships_for_user

logger = logging.getLogger(__name__)


def api_token_create(
    *, user, name: str, expires_at=None, source: Source
) -> tuple[PersonalApiToken, str]:
    """Create a personal API token; return the row and the token, shown once."""
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
                summary=f"{user.name} created the personal API token {name!r}",
                actor=Actor.for_user(user, membership.role),
                source=source,
                target=Target(type="api_token", id=str(api_token.pk), name=name),
                metadata={"prefix": api_token.prefix},
            ),
        )
    logger.info("api token created: user=%s token=%s", user.pk, api_token.pk)
    return api_token, issued.token
