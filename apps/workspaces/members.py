"""Reads and writes of a workspace's members: list, change role, remove."""

import logging

from django.db import transaction
from django.db.models import QuerySet

from apps.audit.services import (
    Actor,
    AuditEntry,
    Source,
    Target,
    audit_record,
    short_hash,
)
from apps.core.errors import ApiError, NotFound, PermissionDenied
from apps.workspaces.models import Membership
from apps.workspaces.roles import Role, role_has_permission
from apps.workspaces.selectors import parse_id
from apps.workspaces.services import user_sync_staff

logger = logging.getLogger(__name__)


def members_list(*, workspace) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(workspace=workspace)
        .select_related("user")
        .prefetch_related("teams")
        .order_by("created_at")
    )


def member_find(*, workspace, user_id) -> Membership:
    """Return the membership of `user_id` in `workspace`, or raise NotFound."""
    parsed = parse_id(user_id)
    membership = (
        members_list(workspace=workspace).filter(user_id=parsed).first()
        if parsed
        else None
    )
    if membership is None:
        raise NotFound()
    return membership


def _check_owner_rights(actor_membership: Membership, *touched_roles: str) -> None:
    touches_owner = Role.OWNER in touched_roles
    if touches_owner and not role_has_permission(
        actor_membership.role, "members:manage-owner"
    ):
        raise PermissionDenied(
            "workspace_owner_management_forbidden",
            "Only an owner may promote, demote or remove an owner.",
        )


def _check_keeps_an_owner(target: Membership) -> None:
    """Raise when `target` is the last owner; the owners are locked meanwhile."""
    owners = list(
        Membership.objects.select_for_update()
        .filter(workspace_id=target.workspace_id, role=Role.OWNER)
        .values_list("pk", flat=True)
    )
    if owners == [target.pk]:
        raise ApiError(
            "workspace_must_have_owner",
            "This is the workspace's last owner; make another member owner first.",
        )


def _audit_member(
    event_name: str,
    membership: Membership,
    actor: Actor,
    source: Source,
    summary: str,
    *,
    metadata: dict,
    changes: list | None = None,
) -> None:
    audit_record(
        workspace=membership.workspace,
        entry=AuditEntry(
            event_name=event_name,
            outcome="success",
            summary=summary,
            actor=actor,
            source=source,
            target=Target(
                type="membership", id=str(membership.pk), name=membership.user.name
            ),
            related_ids={"userId": str(membership.user_id)},
            metadata=metadata,
            changes=changes,
        ),
    )


def _locked(membership: Membership) -> Membership:
    """Re-read a membership under a row lock, so its role cannot change meanwhile."""
    fresh = (
        Membership.objects.select_for_update()
        .select_related("user", "workspace")
        .filter(pk=membership.pk)
        .first()
    )
    if fresh is None:
        raise NotFound()
    return fresh


def member_change_role(
    *, actor_membership: Membership, target: Membership, role: str, source: Source
) -> Membership:
    """Give `target` the role `role`.

    Both memberships are re-read under row locks, so the rules are checked on
    the current roles. Raises ApiError `invalid_role`, `cannot_change_own_role`
    and `workspace_must_have_owner`, and PermissionDenied
    `workspace_owner_management_forbidden` when an owner is involved and the
    actor is not one.
    """
    if role not in set(Role):
        raise ApiError(
            "invalid_role", f"The role {role!r} is not owner, admin or member."
        )
    if target.pk == actor_membership.pk:
        raise ApiError(
            "cannot_change_own_role",
            "You cannot change your own role; ask another owner or admin.",
        )

    with transaction.atomic():
        actor_membership = _locked(actor_membership)
        target = _locked(target)
        _check_owner_rights(actor_membership, target.role, role)
        previous = target.role
        if previous == role:
            return target
        if previous == Role.OWNER:
            _check_keeps_an_owner(target)
        target.role = role
        target.save(update_fields=["role"])
    user_sync_staff(user=target.user)

    _audit_member(
        "member.role_changed",
        target,
        Actor.for_user(actor_membership.user, actor_membership.role),
        source,
        f"{target.user.name} is now {role} (was {previous})",
        metadata={"fromRole": previous, "toRole": role},
        changes=[
            {"field": "role", "before": short_hash(previous), "after": short_hash(role)}
        ],
    )
    logger.info("member role changed: membership=%s", target.pk)
    return target


def member_remove(
    *, actor_membership: Membership, target: Membership, source: Source
) -> None:
    """Remove `target` from the workspace, its teams and its apps' collaborators,
    and fail the runs it started that are still open.

    Raises ApiError `cannot_remove_self` and `workspace_must_have_owner`, and
    PermissionDenied `workspace_owner_management_forbidden`.
    """
    from apps.applications.collaborators import app_collaborators_remove_user
    from apps.execution.runs import runs_fail_for_user
    from apps.integrations.connected_accounts import accounts_revoke_for_user

    if target.pk == actor_membership.pk:
        raise ApiError(
            "cannot_remove_self",
            "You cannot remove yourself; ask another owner or admin.",
        )

    with transaction.atomic():
        actor_membership = _locked(actor_membership)
        target = _locked(target)
        _check_owner_rights(actor_membership, target.role)
        if target.role == Role.OWNER:
            _check_keeps_an_owner(target)
        user, workspace, membership_id = target.user, target.workspace, target.pk
        app_collaborators_remove_user(workspace=workspace, user=user)
        target.delete()
    user_sync_staff(user=user)
    # The removed member's runs must not go on acting for them.
    runs_fail_for_user(workspace=workspace, user=user)
    # Their connected accounts must not keep powering calls in this workspace.
    accounts_revoke_for_user(
        workspace=workspace,
        user=user,
        actor=Actor.for_user(actor_membership.user, actor_membership.role),
        source=source,
        reason="the member was removed",
    )

    target.pk = membership_id
    _audit_member(
        "member.removed",
        target,
        Actor.for_user(actor_membership.user, actor_membership.role),
        source,
        f"{user.name} was removed from the workspace",
        metadata={"role": target.role},
    )
    logger.info("member removed: membership=%s", membership_id)
