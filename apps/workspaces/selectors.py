"""Reads scoped by workspace; every lookup outside the caller's reach is None."""

import uuid

from django.db.models import QuerySet

from apps.workspaces.models import Membership, Workspace
from apps.workspaces.roles import GOVERNING_ROLES


def parse_id(value) -> uuid.UUID | None:
    """Return the UUID in `value`, or None for anything malformed."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def membership_find(*, user, workspace_id) -> Membership | None:
    parsed = parse_id(workspace_id)
    if parsed is None or user is None or not user.is_authenticated:
        return None
    return (
        Membership.objects.select_related("workspace", "user")
        .filter(user=user, workspace_id=parsed, user__is_active=True)
        .first()
    )


def memberships_for_user(*, user) -> QuerySet[Membership]:
    return Membership.objects.select_related("workspace").filter(user=user)


def workspaces_for_user(*, user) -> QuerySet[Workspace]:
    return Workspace.objects.filter(memberships__user=user).order_by("name")


def governed_workspaces(*, user) -> QuerySet[Workspace]:
    """Return the workspaces where `user` is owner or admin: the admin's scope."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Workspace.objects.none()
    return Workspace.objects.filter(
        memberships__user=user, memberships__role__in=GOVERNING_ROLES
    ).distinct()


def workspace_find_by_identifier(*, identifier: str) -> Workspace | None:
    """Find a workspace by id or slug, for management commands."""
    parsed = parse_id(identifier)
    if parsed is not None:
        found = Workspace.objects.filter(pk=parsed).first()
        if found is not None:
            return found
    return Workspace.objects.filter(slug=identifier).first()


def role_in(*, user, workspace) -> str | None:
    membership = Membership.objects.filter(user=user, workspace=workspace).first()
    return membership.role if membership else None
