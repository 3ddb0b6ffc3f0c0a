"""Superseding pending reviews when the draft they were requested for changes."""

import logging

from django.utils import timezone

from apps.applications.models import App, AppSnapshot, Review
from apps.audit.services import Actor, AuditEntry, Source, Target, audit_record

logger = logging.getLogger(__name__)


def reviews_supersede(*, app: App, actor: Actor, source: Source, reason: str) -> int:
    """Mark the app's pending review superseded and return how many were.

    The app goes back to `published` when a published snapshot serves, else to
    `draft`. Each review is saved on its own and audited as `review.superseded`.
    """
    superseded = 0
    for review in Review.objects.filter(app=app, status=Review.Status.PENDING):
        review.status = Review.Status.SUPERSEDED
        review.decided_at = timezone.now()
        review.save(update_fields=["status", "decided_at"])
        superseded += 1
        audit_record(
            workspace=app.workspace,
            entry=AuditEntry(
                event_name="review.superseded",
                outcome="success",
                summary=f"The review of {app.name} was superseded: {reason}",
                actor=actor,
                source=source,
                target=Target(
                    type="review", id=str(review.pk), name=app.name, parent=str(app.pk)
                ),
                metadata={"reviewedHash": review.draft_hash, "reason": reason},
            ),
        )

    if superseded and app.publish_status == App.PublishStatus.REVIEW_REQUESTED:
        published = AppSnapshot.objects.filter(
            app=app, kind=AppSnapshot.Kind.PUBLISHED
        ).exists()
        app.publish_status = (
            App.PublishStatus.PUBLISHED if published else App.PublishStatus.DRAFT
        )
        app.save(update_fields=["publish_status", "updated_at"])
    if superseded:
        logger.info("reviews superseded: app=%s count=%s", app.pk, superseded)
    return superseded
