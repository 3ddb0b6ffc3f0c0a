"""Publish requests and their reviews: request, approve, request changes.

A review stores the draft hash it was requested for. Approving it re-checks,
under a lock on the review row, that it is still pending and that the draft
still hashes to it, so two reviewers approving at once record one approval and
the other gets `409 review_stale`.
"""

import logging

from django.db import transaction
from django.utils import timezone

from apps.agents.models import AgentsApproval
from apps.agents.services import agents_approve
from apps.applications.models import App, Review
from apps.applications.publishing import (
    check_setup_complete,
    draft_state,
    snapshot_promote,
    teams_for_publish,
)
from apps.applications.supersede import reviews_supersede
from apps.audit.services import Actor, AuditEntry, Source, Target, audit_record
from apps.core.errors import ApiError, Conflict, PermissionDenied, ValidationFailed
from apps.workspaces.roles import role_governs

logger = logging.getLogger(__name__)

MODES = ("request", "publish")


def review_target(review: Review) -> Target:
    return Target(
        type="review",
        id=str(review.pk),
        name=review.app.name,
        parent=str(review.app_id),
    )


def _publishable_state(app: App):
    """Return the draft's agents state, refusing a draft that cannot be approved."""
    state = draft_state(app)
    if state.state == "none":
        raise Conflict(
            "agents_json_missing",
            "The app has no agents.json to publish; write one with PATCH "
            ".../agents first.",
        )
    if state.state == "invalid":
        raise ApiError(
            "invalid_agents_json",
            "The draft agents.json is invalid and cannot be published; fix the "
            "problems GET .../agents lists first.",
        )
    return state


def _stale(detail: str) -> Conflict:
    return Conflict("review_stale", detail)


def app_publish(
    *,
    app: App,
    user,
    role: str,
    team_ids,
    mode: str,
    seen_hash: str | None,
    actor: Actor,
    source: Source,
) -> tuple[App, Review | None]:
    """Publish the draft at once, or request a review of it.

    Owners and admins with `mode` `publish` publish at once and must send the
    hash they saw; everyone else, and `mode` `request`, creates a review.
    Raises ApiError `invalid_team_selection`, `agents_config_changed`,
    `integrations_setup_required` and the draft's own errors.
    """
    if mode not in MODES:
        raise ValidationFailed({"mode": ["Send mode request or publish."]})
    teams = teams_for_publish(app=app, team_ids=team_ids)
    state = _publishable_state(app)

    if mode == "request" or not role_governs(role):
        return app, review_request(
            app=app,
            user=user,
            teams=teams,
            draft_hash=state.hash,
            actor=actor,
            source=source,
        )

    if not seen_hash:
        raise ValidationFailed(
            {"hash": ["Send the draft agents.json hash you reviewed."]}
        )
    check_setup_complete(app)
    with transaction.atomic():
        approval = agents_approve(
            app=app,
            seen_hash=seen_hash,
            user=user,
            role=role,
            source=AgentsApproval.Source.PUBLISH,
            audit_source=source,
        )
        snapshot_promote(
            app=app, approval=approval, teams=teams, actor=actor, source=source
        )
        reviews_supersede(
            app=app, actor=actor, source=source, reason="an owner published the app"
        )
    app.refresh_from_db()
    return app, None


def review_request(
    *, app: App, user, teams, draft_hash: str, actor: Actor, source: Source
) -> Review:
    """Create the app's pending review, superseding the one before it."""
    with transaction.atomic():
        locked = App.objects.select_for_update().get(pk=app.pk)
        reviews_supersede(
            app=locked, actor=actor, source=source, reason="a new review was requested"
        )
        review = Review.objects.create(
            workspace_id=locked.workspace_id,
            app=locked,
            draft_hash=draft_hash,
            requested_by=user,
        )
        review.teams.set(teams)
        locked.publish_status = App.PublishStatus.REVIEW_REQUESTED
        locked.save(update_fields=["publish_status", "updated_at"])
        audit_record(
            workspace=locked.workspace,
            entry=AuditEntry(
                event_name="review.requested",
                outcome="success",
                summary=f"{actor.display} asked to publish {locked.name}",
                actor=actor,
                source=source,
                target=review_target(review),
                metadata={"reviewedHash": draft_hash},
                related_ids={"teamIds": sorted(str(team.pk) for team in teams)},
            ),
        )
    app.refresh_from_db()
    logger.info("review requested: app=%s review=%s", app.pk, review.pk)
    return review


def _lock_pending(review: Review) -> Review:
    locked = (
        Review.objects.select_for_update()
        .select_related("app", "app__workspace")
        .get(pk=review.pk)
    )
    if locked.status != Review.Status.PENDING:
        raise _stale(
            f"This review is {locked.status.replace('_', ' ')}, so it can no longer "
            "be decided; open the app's latest review."
        )
    return locked


def review_approve(*, review: Review, user, role: str, actor: Actor, source: Source):
    """Approve a pending review: approve its agents.json and publish the draft.

    Raises Conflict `review_stale` when the review is no longer pending or the
    draft no longer hashes to what was requested, and
    `integrations_setup_required` in external mode while a grant needs setup.
    """
    if not role_governs(role):
        raise PermissionDenied(
            "forbidden", "Only owners and admins approve reviews and publish apps."
        )
    check_setup_complete(review.app)
    with transaction.atomic():
        review = _lock_pending(review)
        app = review.app
        current = draft_state(app)
        if current.hash != review.draft_hash:
            raise _stale(
                f"The draft changed since this review was requested: it now hashes "
                f"to {current.hash}, not {review.draft_hash}. Ask for a new review."
            )
        approval = agents_approve(
            app=app,
            seen_hash=review.draft_hash,
            user=user,
            role=role,
            source=AgentsApproval.Source.REVIEW,
            audit_source=source,
        )
        snapshot_promote(
            app=app,
            approval=approval,
            teams=list(review.teams.all()),
            actor=actor,
            source=source,
        )
        _decide(review, Review.Status.APPROVED, user, approval=approval)
        audit_record(
            workspace=app.workspace,
            entry=AuditEntry(
                event_name="review.approved",
                outcome="success",
                summary=f"{actor.display} approved publishing {app.name}",
                actor=actor,
                source=source,
                target=review_target(review),
                metadata={"reviewedHash": review.draft_hash, "hash": approval.hash},
                related_ids={"approvalId": str(approval.pk)},
            ),
        )
    logger.info("review approved: review=%s approval=%s", review.pk, approval.pk)
    return review


def review_request_changes(
    *, review: Review, user, message: str, actor: Actor, source: Source
) -> Review:
    """Send a pending review back to its builders with `message`."""
    message = (message or "").strip()
    if not message:
        raise ValidationFailed(
            {"message": ["Say what must change before the app can be published."]}
        )
    with transaction.atomic():
        review = _lock_pending(review)
        review.message = message[:4000]
        _decide(review, Review.Status.CHANGES_REQUESTED, user)
        app = review.app
        app.publish_status = App.PublishStatus.CHANGES_REQUESTED
        app.save(update_fields=["publish_status", "updated_at"])
        audit_record(
            workspace=app.workspace,
            entry=AuditEntry(
                event_name="review.changes_requested",
                outcome="success",
                summary=f"{actor.display} requested changes to {app.name}",
                actor=actor,
                source=source,
                target=review_target(review),
                metadata={"reviewedHash": review.draft_hash},
            ),
        )
    logger.info("review changes requested: review=%s", review.pk)
    return review


def _decide(review: Review, status: str, user, approval=None) -> None:
    review.status = status
    review.decided_by = user
    review.decided_at = timezone.now()
    review.approval = approval
    review.save(
        update_fields=["status", "decided_by", "decided_at", "approval", "message"]
    )
