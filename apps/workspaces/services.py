"""Writes of workspaces and memberships."""

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from apps.audit.services import Actor, AuditEntry, Source, Target, audit_record
from apps.core.errors import ApiError, Conflict
from apps.workspaces.models import (
    DEFAULT_TEAM_NAME,
    Membership,
    Team,
    TeamMembership,
    Workspace,
)
from apps.workspaces.roles import Role, role_governs

logger = logging.getLogger(__name__)


def user_sync_staff(*, user) -> None:
    """Derive `is_staff` from being owner or admin of at least one workspace."""
    governs = Membership.objects.filter(
        user=user, role__in=[Role.OWNER, Role.ADMIN]
    ).exists()
    if user.is_staff != governs:
        user.is_staff = governs
        user.save(update_fields=["is_staff"])


def _unique_slug(name: str, slug: str | None) -> str:
    if slug:
        slug = slug.lower()
        if Workspace.objects.filter(slug=slug).exists():
            raise Conflict(
                "workspace_slug_unavailable",
                f"The workspace slug {slug!r} is taken; choose another slug.",
            )
        return slug
    base = slugify(name)[:56] or "workspace"
    candidate, counter = base, 2
    while Workspace.objects.filter(slug=candidate).exists():
        candidate = f"{base}-{counter}"
        counter += 1
    return candidate


def workspace_create(
    *,
    owner,
    name: str,
    slug: str | None = None,
    actor: Actor | None = None,
    source: Source | None = None,
) -> Workspace:
    """Create a workspace with `owner` as its owner and its `General` team.

    `actor` is who creates it: the owner, unless an operator's command does.
    Raises Conflict `workspace_slug_unavailable` when the slug is taken.
    """
    name = name.strip()
    if not name:
        raise ApiError(
            "invalid_request",
            "The workspace name is empty; send a name.",
            extra={"fields": {"name": ["This field may not be blank."]}},
        )
    summary = f"{owner.name} created the workspace and became its owner"
    if actor is not None:
        summary = f"{actor.display} created the workspace with {owner.name} as owner"
    # The first event is written in the same transaction, so a workspace never
    # exists without its audit chain, and verification treats a workspace with
    # no chain as one whose chain was removed.
    try:
        with transaction.atomic():
            workspace = Workspace.objects.create(
                name=name, slug=_unique_slug(name, slug), created_by=owner
            )
            membership = Membership.objects.create(
                workspace=workspace,
                user=owner,
                role=Role.OWNER,
                source=Membership.Source.CREATOR,
            )
            team = Team.objects.create(
                workspace=workspace, name=DEFAULT_TEAM_NAME, is_default=True
            )
            TeamMembership.objects.create(team=team, membership=membership)
            audit_record(
                workspace=workspace,
                entry=AuditEntry(
                    event_name="member.added",
                    outcome="success",
                    summary=summary,
                    actor=actor or Actor.for_user(owner, Role.OWNER),
                    source=source or Source(kind="web"),
                    target=Target(
                        type="membership", id=str(membership.pk), name=owner.name
                    ),
                    metadata={"role": Role.OWNER, "workspaceName": workspace.name},
                ),
            )
    except IntegrityError:
        raise Conflict(
            "workspace_slug_unavailable",
            f"The workspace slug {slug!r} is taken; choose another slug.",
        ) from None
    user_sync_staff(user=owner)
    logger.info("workspace created: id=%s owner=%s", workspace.pk, owner.pk)
    return workspace


def _acting(actor) -> Actor:
    """Return the audit actor of a user, of an operator's Actor, or the system."""
    if isinstance(actor, Actor):
        return actor
    return Actor.for_user(actor) if actor else Actor.system()


def membership_add(
    *, workspace, user, role: str, actor, source: Source | None = None
) -> Membership:
    """Add `user` to `workspace` with `role` and to its General team.

    `actor` is the user who adds them, the Actor of an operator's command, or
    None for the system.
    """
    if role not in set(Role):
        raise ApiError(
            "invalid_role", f"The role {role!r} is not owner, admin or member."
        )
    with transaction.atomic():
        membership, created = Membership.objects.get_or_create(
            workspace=workspace, user=user, defaults={"role": role}
        )
        if not created:
            raise Conflict(
                "workspace_member_already_exists",
                f"{user.name} is already a member of this workspace.",
            )
        general = Team.objects.get(workspace=workspace, is_default=True)
        TeamMembership.objects.create(team=general, membership=membership)
    user_sync_staff(user=user)
    audit_record(
        workspace=workspace,
        entry=AuditEntry(
            event_name="member.added",
            outcome="success",
            summary=f"{user.name} joined as {role}",
            actor=_acting(actor),
            source=source or Source(kind="web"),
            target=Target(type="membership", id=str(membership.pk), name=user.name),
            metadata={"role": role},
        ),
    )
    return membership


def workspace_creation_allowed() -> bool:
    return settings.SECOND_WORKSPACE_CREATION == "anyone"


__all__ = [
    "membership_add",
    "role_governs",
    "user_sync_staff",
    "workspace_create",
    "workspace_creation_allowed",
]
