"""Writes of apps."""

import logging

from django.db import transaction

from apps.applications.models import App, AppSnapshot, Review
from apps.audit.services import Actor, AuditEntry, Source, Target, audit_record

logger = logging.getLogger(__name__)


def app_create(
    *, workspace, name: str, description: str, user, actor: Actor, source: Source
) -> App:
    """Create an app with an empty draft snapshot; `user` becomes its creator."""
    with transaction.atomic():
        app = App.objects.create(
            workspace=workspace, name=name, description=description, created_by=user
        )
        AppSnapshot.objects.create(app=app, kind=AppSnapshot.Kind.DRAFT, files={})
    audit_record(
        workspace=workspace,
        entry=AuditEntry(
            event_name="app.created",
            outcome="success",
            summary=f"{actor.display} created the app {app.name}",
            actor=actor,
            source=source,
            target=Target(type="app", id=str(app.pk), name=app.name),
        ),
    )
    logger.info("app created: workspace=%s app=%s", workspace.pk, app.pk)
    return app


def app_update(
    *, app: App, changes: dict, actor: Actor, source: Source, teams=None
) -> App:
    """Change the app's name or description, and its teams when `teams` is given.

    A change of teams is audited as `app.teams_changed`, and also as
    `app.visibility_changed` while the app is published. The catalogue has no
    event for a new name or description.
    """
    from apps.applications.publishing import (
        AUDIENCE_TEAMS,
        set_teams,
        visibility_record,
    )

    with transaction.atomic():
        for field in ("name", "description"):
            if field in changes:
                setattr(app, field, changes[field])
        app.save()
        if teams is not None:
            before, after = set_teams(app, teams, actor, source)
            if app.snapshots.filter(kind=AppSnapshot.Kind.PUBLISHED).exists():
                visibility_record(
                    app,
                    before=(AUDIENCE_TEAMS, before),
                    after=(AUDIENCE_TEAMS, after),
                    actor=actor,
                    source=source,
                )
    logger.info("app updated: app=%s fields=%s", app.pk, sorted(changes))
    return app


def app_delete(*, app: App, actor: Actor, source: Source) -> None:
    """Delete the app with its snapshots, grants and runs, audited as `app.deleted`.

    The grants' stored secrets are deleted through the secret store first, so
    no value outlives the app.
    """
    from apps.integrations.grant_secrets import grant_delete
    from apps.integrations.selectors import grants_for_app

    for grant in grants_for_app(app=app):
        grant_delete(grant=grant, actor=actor, source=source)

    workspace, app_id, name = app.workspace, app.pk, app.name
    published = AppSnapshot.objects.filter(
        app=app, kind=AppSnapshot.Kind.PUBLISHED
    ).first()
    with transaction.atomic():
        # Snapshots and reviews point at approvals with PROTECT, so they go first.
        Review.objects.filter(app=app).delete()
        AppSnapshot.objects.filter(app=app).delete()
        app.delete()
    audit_record(
        workspace=workspace,
        entry=AuditEntry(
            event_name="app.deleted",
            outcome="success",
            summary=f"{actor.display} deleted the app {name}",
            actor=actor,
            source=source,
            target=Target(type="app", id=str(app_id), name=name),
            metadata={"publishedHash": published.agents_hash if published else None},
        ),
    )
    logger.info("app deleted: workspace=%s app=%s", workspace.pk, app_id)
