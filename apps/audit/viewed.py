"""`audit.viewed`: a read of the audit log, recorded at most once a minute per
user and workspace, so that paging through the log does not flood it."""

import logging

from django.core.cache import cache

from apps.audit.models import AuditEvent
from apps.audit.services import Actor, AuditEntry, Source, Target, audit_record

logger = logging.getLogger(__name__)

VIEWED_INTERVAL_SECONDS = 60


def viewed_key(workspace_id, user_id) -> str:
    return f"audit-viewed:{workspace_id}:{user_id}"


def audit_viewed_note(
    *, workspace, user, actor: Actor, source: Source, view: str
) -> AuditEvent | None:
    """Record `audit.viewed` unless `user` did so in `workspace` within a minute.

    `cache.add` stores the key only when it is absent, so of two concurrent
    readers exactly one writes the event. When the write fails, the key is
    removed again, so the next read records its event instead of going
    unrecorded for the rest of the minute.
    NOTE: the local-memory cache keeps keys per process, so without Redis each
    process writes its own event a minute.
    """
    key = viewed_key(workspace.pk, user.pk)
    if not cache.add(key, 1, timeout=VIEWED_INTERVAL_SECONDS):
        return None

    try:
        return audit_record(
            workspace=workspace,
            entry=AuditEntry(
                event_name="audit.viewed",
                outcome="success",
                summary=f"{actor.display} read the audit log",
                actor=actor,
                source=source,
                target=Target(type="audit_log", id=str(workspace.pk)),
                metadata={"view": view},
            ),
        )
    except Exception:
        cache.delete(key)
        logger.warning(
            "audit.viewed not recorded: workspace=%s user=%s", workspace.pk, user.pk
        )
        raise
