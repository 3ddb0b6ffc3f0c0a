"""The one writer of an app's draft snapshot, whichever route changes it.

Files are a JSON map of path to text. A write is checked whole against the size
limits (1 MB a file, 12 MB in all) and stored whole or not at all. A change to
`agents.json` that leaves an approval behind is audited as
`app.agents_config.stale`, and any change supersedes a pending review.
"""

import json
import logging

from django.db import transaction

from apps.applications.models import (
    AGENTS_FILE,
    MAX_FILE_BYTES,
    MAX_SNAPSHOT_BYTES,
    App,
    AppSnapshot,
)
from apps.applications.supersede import reviews_supersede
from apps.audit.services import Actor, AuditEntry, Source, Target, audit_record
from apps.core.errors import ApiError

logger = logging.getLogger(__name__)


def file_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def serialise_json_file(document) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _check_sizes(files: dict[str, str]) -> int:
    oversized = [
        path for path, text in files.items() if file_bytes(text) > MAX_FILE_BYTES
    ]
    if oversized:
        raise ApiError(
            "file_too_large",
            f"{', '.join(sorted(oversized))} exceed 1 MB; nothing was written. "
            "Split or shrink the file.",
            status_code=413,
        )
    total = sum(file_bytes(text) for text in files.values())
    if total > MAX_SNAPSHOT_BYTES:
        raise ApiError(
            "snapshot_too_large",
            f"The app's files would total {total} bytes, over the 12 MB limit; "
            "nothing was written.",
            status_code=413,
        )
    return total


def draft_write(
    *, app: App, changes: dict[str, str | None], actor: Actor, source: Source
) -> AppSnapshot:
    """Apply `changes` (path to new text, or None to delete) to the draft.

    Raises ApiError `file_too_large` or `snapshot_too_large` (413) and writes
    nothing in that case.
    """
    from apps.agents.selectors import agents_state_for_files

    with transaction.atomic():
        snapshot, _ = AppSnapshot.objects.select_for_update().get_or_create(
            app=app, kind=AppSnapshot.Kind.DRAFT
        )
        before = agents_state_for_files(app=app, files=snapshot.files)
        previous_files = dict(snapshot.files)
        files = dict(snapshot.files)
        for path, text in changes.items():
            if text is None:
                files.pop(path, None)
            else:
                files[path] = text
        snapshot.total_bytes = _check_sizes(files)
        snapshot.files = files
        after = agents_state_for_files(app=app, files=files)
        snapshot.agents_hash = after.hash or ""
        snapshot.updated_by_id = actor.id if actor.kind == "user" else None
        snapshot.save()
        App.objects.filter(pk=app.pk).update(updated_at=snapshot.updated_at)
        if files != previous_files:
            reviews_supersede(
                app=app, actor=actor, source=source, reason="the draft changed"
            )

    if AGENTS_FILE in changes and before.state == "approved" and after.state == "stale":
        audit_record(
            workspace=app.workspace,
            entry=AuditEntry(
                event_name="app.agents_config.stale",
                outcome="success",
                summary=f"agents.json of {app.name} changed after approval; live "
                "tools are off until it is approved again",
                actor=actor,
                source=source,
                target=Target(type="app", id=str(app.pk), name=app.name),
                metadata={"approvedHash": before.hash, "draftHash": after.hash},
            ),
        )
    logger.info("draft written: app=%s files=%s", app.pk, len(changes))
    return snapshot
