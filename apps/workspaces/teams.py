"""Reads and writes of teams and of their members, scoped by workspace.

Every workspace has one default team, `General`, that every member joins. It
cannot be renamed or deleted, and no member can be removed from it while they
belong to the workspace.
"""

import logging

from django.db import IntegrityError, transaction
from django.db.models import Prefetch, QuerySet

from apps.audit.services import (
    Actor,
    AuditEntry,
    Source,
    Target,
    audit_record,
    short_hash,
)
from apps.core.errors import ApiError, Conflict
from apps.workspaces.models import Membership, Team, TeamMembership
from apps.workspaces.selectors import parse_id

logger = logging.getLogger(__name__)


class DefaultTeamLocked(ApiError):
    status_code = 400
    code = "default_team_locked"


# Reads.


def teams_list(*, workspace) -> QuerySet[Team]:
    """Return the workspace's teams with their members prefetched.

    Listing them costs two queries whatever the number of teams, one for the teams
    and one for all their memberships.
    """
    members = Prefetch("members", queryset=Membership.objects.only("id", "user_id"))
    return Team.objects.filter(workspace=workspace).prefetch_related(members)


def team_find(*, workspace, team_id) -> Team | None:
    """Return the team `team_id` of `workspace`, or None when it is elsewhere."""
    parsed = parse_id(team_id)
    if parsed is None:
        return None
    teams = teams_list(workspace=workspace).select_related("workspace")
    return teams.filter(pk=parsed).first()


def team_member_find(*, workspace, user_id) -> Membership | None:
    """Return the membership of user `user_id` in `workspace`, or None."""
    parsed = parse_id(user_id)
    if parsed is None:
        return None
    return (
        Membership.objects.select_related("user")
        .filter(workspace=workspace, user_id=parsed)
        .first()
    )


def team_member_ids(team: Team) -> list[str]:
    """Return the user ids of the team's members, sorted, from the prefetch."""
    return sorted(str(membership.user_id) for membership in team.members.all())


# Writes.


def _name_taken(*, workspace, name: str, exclude_id=None) -> bool:
    teams = Team.objects.filter(workspace=workspace, name__iexact=name)
    if exclude_id is not None:
        teams = teams.exclude(pk=exclude_id)
    return teams.exists()


def _name_unavailable(name: str) -> Conflict:
    return Conflict(
        "team_name_unavailable",
        f"A team named {name!r} already exists in this workspace, compared "
        "without case. Choose another name.",
    )


def _require_not_default(team: Team, action: str) -> None:
    if team.is_default:
        raise DefaultTeamLocked(
            detail=f"The default team {team.name!r} cannot be {action}: every "
            "member of the workspace belongs to it."
        )


def _record(*, team: Team, event_name: str, summary: str, actor, source, **extra):
    audit_record(
        workspace=team.workspace,
        entry=AuditEntry(
            event_name=event_name,
            outcome="success",
            summary=summary,
            actor=actor,
            source=source,
            target=Target(type="team", id=str(team.pk), name=team.name),
            **extra,
        ),
    )


def team_create(*, workspace, name: str, actor: Actor, source: Source) -> Team:
    """Create a team named `name` in `workspace`, with no members.

    Raises Conflict `team_name_unavailable` when a team of the workspace has the
    same name, compared without case.
    """
    if _name_taken(workspace=workspace, name=name):
        raise _name_unavailable(name)

    try:
        with transaction.atomic():
            team = Team.objects.create(workspace=workspace, name=name)
    except IntegrityError:
        raise _name_unavailable(name) from None

    _record(
        team=team,
        event_name="team.created",
        summary=f"{actor.display} created the team {name}",
        actor=actor,
        source=source,
    )
    logger.info("team created: workspace=%s team=%s", workspace.pk, team.pk)
    return team


def team_rename(*, team: Team, name: str, actor: Actor, source: Source) -> Team:
    """Rename `team` to `name`. An unchanged name writes nothing.

    Raises DefaultTeamLocked for the default team and Conflict
    `team_name_unavailable` when another team of the workspace has the name.
    """
    _require_not_default(team, "renamed")
    if team.name == name:
        return team
    if _name_taken(workspace=team.workspace, name=name, exclude_id=team.pk):
        raise _name_unavailable(name)

    previous = team.name
    team.name = name
    try:
        with transaction.atomic():
            team.save(update_fields=["name"])
    except IntegrityError:
        team.name = previous
        raise _name_unavailable(name) from None

    _record(
        team=team,
        event_name="team.renamed",
        summary=f"{actor.display} renamed the team {previous} to {name}",
        actor=actor,
        source=source,
        changes=[
            {"field": "name", "before": short_hash(previous), "after": short_hash(name)}
        ],
        metadata={"previousName": previous, "name": name},
    )
    logger.info("team renamed: workspace=%s team=%s", team.workspace_id, team.pk)
    return team


def team_delete(*, team: Team, actor: Actor, source: Source) -> None:
    """Delete `team`. Its members stay in the workspace, and apps lose the team.

    Raises DefaultTeamLocked for the default team.
    """
    _require_not_default(team, "deleted")

    member_count = TeamMembership.objects.filter(team=team).count()
    app_ids = [str(pk) for pk in team.apps.values_list("pk", flat=True)]
    team_id = team.pk
    team.delete()
    # delete() clears the primary key, but the audit event must name the team.
    team.pk = team_id

    _record(
        team=team,
        event_name="team.deleted",
        summary=f"{actor.display} deleted the team {team.name}",
        actor=actor,
        source=source,
        metadata={"memberCount": member_count, "appCount": len(app_ids)},
        related_ids={"appIds": app_ids},
    )
    logger.info("team deleted: workspace=%s team=%s", team.workspace_id, team_id)


def team_member_add(
    *, team: Team, membership: Membership, actor: Actor, source: Source
) -> bool:
    """Add the member to `team` and return True, or return False if already in it.

    `membership` must belong to the team's workspace, so the caller looks it up
    with `team_member_find(workspace=team.workspace, ...)`.
    """
    try:
        with transaction.atomic():
            _, created = TeamMembership.objects.get_or_create(
                team=team, membership=membership
            )
    except IntegrityError:
        # A concurrent request added the same member first.
        created = False
    if not created:
        return False

    _record(
        team=team,
        event_name="team.member_added",
        summary=f"{actor.display} added {membership.user.name} to the team {team.name}",
        actor=actor,
        source=source,
        related_ids={
            "userId": str(membership.user_id),
            "membershipId": str(membership.pk),
        },
    )
    logger.info("team member added: team=%s user=%s", team.pk, membership.user_id)
    return True


def team_member_remove(
    *, team: Team, membership: Membership, actor: Actor, source: Source
) -> bool:
    """Remove the member from `team` and return True, or return False if not in it.

    Raises DefaultTeamLocked for the default team, which members leave only by
    leaving the workspace.
    """
    if team.is_default:
        raise DefaultTeamLocked(
            detail=f"Nobody can be removed from the default team {team.name!r} "
            "while they are a member of the workspace. Remove them from the "
            "workspace instead."
        )

    deleted, _ = TeamMembership.objects.filter(
        team=team, membership=membership
    ).delete()
    if not deleted:
        return False

    _record(
        team=team,
        event_name="team.member_removed",
        summary=f"{actor.display} removed {membership.user.name} from the team "
        f"{team.name}",
        actor=actor,
        source=source,
        related_ids={
            "userId": str(membership.user_id),
            "membershipId": str(membership.pk),
        },
    )
    logger.info("team member removed: team=%s user=%s", team.pk, membership.user_id)
    return True
