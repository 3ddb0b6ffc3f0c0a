"""Writes of apps."""

import logging

from django.db import transaction

from apps.applications.models import App, AppSnapshot
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
