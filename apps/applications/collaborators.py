"""Reads and writes of an app's collaborators: members who build it with its creator.

Collaborators are members of the app's workspace. An id that is not one is
rejected with the same message whether or not such an account exists elsewhere.
"""

import logging

from django.db import transaction
from django.db.models import QuerySet

from apps.accounts.models import User
from apps.applications.models import App
from apps.audit.services import Actor, AuditEntry, Source, Target, audit_record
from apps.core.errors import ValidationFailed
from apps.workspaces.models import Membership
from apps.workspaces.roles import role_governs
from apps.workspaces.selectors import parse_id

logger = logging.getLogger(__name__)

NOT_A_MEMBER = "{} is not a member of this workspace."


# Reads.


def app_collaborators_list(*, workspace, app: App) -> QuerySet[User]:
    """Return the collaborators of `app`, which must belong to `workspace`."""
    return User.objects.filter(
        collaborating_apps=app, collaborating_apps__workspace=workspace
    ).order_by("username")


def app_manages_collaborators(*, membership, app: App) -> bool:
    """Return whether the member may change the app's collaborators.

    Owners, admins and the app's creator may. Collaborators may not.
    """
    if role_governs(membership.role):
        return True
    return app.created_by_id == membership.user_id


# Writes.


def _member_user_ids(*, workspace, user_ids: list[str]) -> tuple[list, list[str]]:
    """Split `user_ids` into the UUIDs of members of `workspace` and the rest."""
    parsed = {value: parse_id(value) for value in user_ids}
    candidates = [pk for pk in parsed.values() if pk is not None]
    members = set(
        Membership.objects.filter(
            workspace=workspace, user_id__in=candidates
        ).values_list("user_id", flat=True)
    )
    valid = [pk for pk in parsed.values() if pk in members]
    invalid = [value for value, pk in parsed.items() if pk not in members]
    return valid, invalid


def app_collaborators_set(
    *, app: App, user_ids: list[str], actor: Actor, source: Source
) -> None:
    """Replace the collaborators of `app` with the users `user_ids`.

    An unchanged set writes nothing. Raises ValidationFailed (`invalid_request`,
    `fields.userIds`) naming every id that is not a member of the app's
    workspace, malformed ids included.
    """
    unique_ids = list(dict.fromkeys(str(value) for value in user_ids))
    valid, invalid = _member_user_ids(workspace=app.workspace, user_ids=unique_ids)
    if invalid:
        raise ValidationFailed(
            {"userIds": [NOT_A_MEMBER.format(value) for value in invalid]},
            detail="Every collaborator must be a member of this workspace. Remove "
            "the ids listed in fields.userIds.",
        )

    with transaction.atomic():
        locked = App.objects.select_for_update().get(pk=app.pk)
        before = set(locked.collaborators.values_list("pk", flat=True))
        after = set(valid)
        if before == after:
            return
        locked.collaborators.set(after)

    added = sorted(str(pk) for pk in after - before)
    removed = sorted(str(pk) for pk in before - after)
    audit_record(
        workspace=app.workspace,
        entry=AuditEntry(
            event_name="app.collaborators_changed",
            outcome="success",
            summary=f"{actor.display} changed the collaborators of {app.name}: "
            f"{len(added)} added, {len(removed)} removed",
            actor=actor,
            source=source,
            target=Target(type="app", id=str(app.pk), name=app.name),
            metadata={"addedCount": len(added), "removedCount": len(removed)},
            related_ids={"addedUserIds": added, "removedUserIds": removed},
        ),
    )
    logger.info(
        "app collaborators changed: app=%s added=%s removed=%s",
        app.pk,
        ",".join(added),
        ",".join(removed),
    )


def app_collaborators_remove_user(*, workspace, user) -> int:
    """Drop `user` from the collaborators of every app of `workspace`.

    Called when the member leaves, because collaborators are members of the
    app's workspace. Returns the number of apps the user collaborated on.
    """
    through = App.collaborators.through
    removed, _ = through.objects.filter(app__workspace=workspace, user=user).delete()
    if removed:
        logger.info(
            "collaborator removed from apps: workspace=%s count=%s",
            workspace.pk,
            removed,
        )
    return removed
