"""Publishing an app: promoting the approved draft, and stopping it again.

The published snapshot is a copy of the draft's files together with the
approval of its agents.json; published runs and viewers read only it. Every
promotion happens inside the transaction that records the approval, so no
reader sees a published snapshot without the payload that was approved for it.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.agents.models import AgentsApproval
from apps.agents.selectors import agents_state_for_files
from apps.applications.models import App, AppSnapshot, Review
from apps.applications.selectors import snapshot_files
from apps.audit.services import Actor, AuditEntry, Source, Target, audit_record
from apps.core.errors import ApiError, Conflict
from apps.workspaces.models import Team

logger = logging.getLogger(__name__)

# The audience of an app's published version: its teams' members while one
# exists, and otherwise only those who build the app.
AUDIENCE_TEAMS = "teams"
AUDIENCE_BUILDERS = "builders"


def app_target(app: App) -> Target:
    return Target(type="app", id=str(app.pk), name=app.name)


def teams_for_publish(*, app: App, team_ids) -> list[Team]:
    """Return the teams named by `team_ids`, all of them in the app's workspace.

    Raises ApiError `invalid_team_selection` when the list is empty or names a
    team that is not in the workspace.
    """
    if not isinstance(team_ids, list) or not team_ids:
        raise ApiError(
            "invalid_team_selection",
            "Send teamIds: the ids of one or more teams of this workspace that may "
            "use the published app.",
        )
    wanted = {str(team_id) for team_id in team_ids}
    teams = [
        team
        for team in Team.objects.filter(workspace_id=app.workspace_id)
        if str(team.pk) in wanted
    ]
    if len(teams) != len(wanted):
        raise ApiError(
            "invalid_team_selection",
            "teamIds names a team that is not in this workspace; send ids from "
            "GET .../teams.",
        )
    return teams


def check_setup_complete(app: App) -> None:
    """Refuse to publish in external mode while a grant of the app needs setup."""
    from apps.integrations.contracts import grant_needs_setup
    from apps.integrations.selectors import grants_for_app

    if settings.SECOND_AUTH_MODE != "external":
        return
    pending = [
        grant
        for grant in grants_for_app(app=app).prefetch_related("secrets")
        if grant.status == grant.Status.ACTIVE and grant_needs_setup(grant)
    ]
    if pending:
        names = ", ".join(sorted(f"{g.name} ({g.domain})" for g in pending))
        raise Conflict(
            "integrations_setup_required",
            f"An admin must set up {names} before this app is published.",
        )


def draft_state(app: App):
    return agents_state_for_files(
        app=app, files=snapshot_files(app=app, kind=AppSnapshot.Kind.DRAFT)
    )


def team_ids_of(app: App) -> list[str]:
    return sorted(str(pk) for pk in app.teams.values_list("pk", flat=True))


def set_teams(
    app: App, teams: list[Team], actor: Actor, source: Source
) -> tuple[list[str], list[str]]:
    """Give the app `teams`, audited as `app.teams_changed`.

    Returns the sorted team ids before and after the change.
    """
    before = team_ids_of(app)
    after = sorted(str(team.pk) for team in teams)
    if before == after:
        return before, after
    app.teams.set(teams)
    audit_record(
        workspace=app.workspace,
        entry=AuditEntry(
            event_name="app.teams_changed",
            outcome="success",
            summary=f"{actor.display} set the teams of {app.name}",
            actor=actor,
            source=source,
            target=app_target(app),
            related_ids={"teamIdsBefore": before, "teamIds": after},
        ),
    )
    return before, after


def visibility_record(
    app: App,
    *,
    before: tuple[str, list[str]],
    after: tuple[str, list[str]],
    actor: Actor,
    source: Source,
) -> None:
    """Audit a change of who can see the app's published version.

    `before` and `after` are an audience and its team ids: AUDIENCE_TEAMS while a
    published version exists, AUDIENCE_BUILDERS (owners, admins, the creator and
    collaborators only, no team ids) while none does.
    """
    if before == after:
        return
    audit_record(
        workspace=app.workspace,
        entry=AuditEntry(
            event_name="app.visibility_changed",
            outcome="success",
            summary=f"{actor.display} changed who can see {app.name}",
            actor=actor,
            source=source,
            target=app_target(app),
            metadata={"audienceBefore": before[0], "audience": after[0]},
            related_ids={"teamIdsBefore": before[1], "teamIds": after[1]},
        ),
    )


def snapshot_promote(
    *,
    app: App,
    approval: AgentsApproval,
    teams: list[Team],
    actor: Actor,
    source: Source,
) -> AppSnapshot:
    """Copy the draft to the published snapshot with `approval`; call in a transaction.

    Raises Conflict `agents_config_changed` when, under the draft's row lock, the
    draft no longer hashes to the approval, so the caller's transaction rolls
    back instead of publishing files that were not approved.
    """
    draft = AppSnapshot.objects.select_for_update().get(
        app=app, kind=AppSnapshot.Kind.DRAFT
    )
    if draft.agents_hash != approval.hash:
        raise Conflict(
            "agents_config_changed",
            f"The draft changed while it was being published: it now hashes to "
            f"{draft.agents_hash}, not {approval.hash}. Review it again.",
        )
    previous = AppSnapshot.objects.filter(
        app=app, kind=AppSnapshot.Kind.PUBLISHED
    ).first()
    published, _ = AppSnapshot.objects.update_or_create(
        app=app,
        kind=AppSnapshot.Kind.PUBLISHED,
        defaults={
            "files": dict(draft.files),
            "total_bytes": draft.total_bytes,
            "agents_hash": approval.hash,
            "approval": approval,
            "updated_by_id": actor.id if actor.kind == "user" else None,
        },
    )
    app.publish_status = App.PublishStatus.PUBLISHED
    app.published_at = timezone.now()
    app.save(update_fields=["publish_status", "published_at", "updated_at"])
    teams_before, teams_after = set_teams(app, teams, actor, source)
    visibility_record(
        app,
        before=(
            (AUDIENCE_TEAMS, teams_before) if previous else (AUDIENCE_BUILDERS, [])
        ),
        after=(AUDIENCE_TEAMS, teams_after),
        actor=actor,
        source=source,
    )

    audit_record(
        workspace=app.workspace,
        entry=AuditEntry(
            event_name="app.published",
            outcome="success",
            summary=f"{actor.display} published {app.name} ({approval.hash[:15]}…)",
            actor=actor,
            source=source,
            target=app_target(app),
            metadata={
                "hash": approval.hash,
                "previousHash": previous.agents_hash if previous else None,
                "approvalSource": approval.source,
            },
            related_ids={
                "approvalId": str(approval.pk),
                "teamIds": sorted(str(team.pk) for team in teams),
            },
        ),
    )
    logger.info("app published: app=%s approval=%s", app.pk, approval.pk)
    return published


def app_unpublish(*, app: App, actor: Actor, source: Source, reason: str = "") -> bool:
    """Stop the published app at once; return False when it was not published.

    Published runs and app actions read the published snapshot on every call,
    so deleting it stops them before their next call.
    """
    with transaction.atomic():
        locked = App.objects.select_for_update().get(pk=app.pk)
        published = AppSnapshot.objects.filter(
            app=locked, kind=AppSnapshot.Kind.PUBLISHED
        ).first()
        if published is None:
            return False
        hash_before = published.agents_hash
        published.delete()
        pending = Review.objects.filter(
            app=locked, status=Review.Status.PENDING
        ).exists()
        locked.publish_status = (
            App.PublishStatus.REVIEW_REQUESTED if pending else App.PublishStatus.DRAFT
        )
        locked.published_at = None
        locked.save(update_fields=["publish_status", "published_at", "updated_at"])
        audit_record(
            workspace=locked.workspace,
            entry=AuditEntry(
                event_name="app.unpublished",
                outcome="success",
                summary=f"{actor.display} unpublished {locked.name}",
                actor=actor,
                source=source,
                target=app_target(locked),
                metadata={"hash": hash_before, "reason": reason},
            ),
        )
        visibility_record(
            locked,
            before=(AUDIENCE_TEAMS, team_ids_of(locked)),
            after=(AUDIENCE_BUILDERS, []),
            actor=actor,
            source=source,
        )
    app.refresh_from_db()
    logger.info("app unpublished: app=%s", app.pk)
    return True
