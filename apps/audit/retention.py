"""Remove expired audit events from the start of each chain, leaving a checkpoint.

An event is expired when it occurred more than `SECOND_AUDIT_RETENTION_DAYS`
before now. Only the expired prefix of a chain is removed: its first event up to
the event before the first one still kept. An expired event after a kept one
stays, because removing it would break the chain in the middle.

Checkpoints: the prefix is deleted and one `audit.checkpoint` event takes the
place of its last event, event n.

- The checkpoint's `sequence`, `previous_hash` and `hash` are copied from event
  n, so event n + 1 still links to it and no kept event is rewritten.
- Its metadata contains `removedThroughSequence` (n), `removedThroughHash` (the
  hash of event n), `removedCount` (the rows this run deleted, an earlier
  checkpoint included) and `before` (the expiry time).
- Its `hash` is not its own digest, so its metadata also contains
  `checkpointSignature`: an HMAC under the Django secret key of `event_digest`
  of the checkpoint with that key left out. Without the key, a database writer
  cannot remove a prefix and leave a checkpoint that verifies.

`chain_verify` accepts an `audit.checkpoint` only as the first event of a chain,
checks its `checkpointSignature` and that its sequence and hash are the removed
ones, and verifies the rest of the chain from it. The chain head is not changed:
it already names the last event, which is the checkpoint when every event
expired. The checkpoint occurred at the time of the run, so it expires a
retention period later, with the events after it.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.audit.chain import (
    CHECKPOINT_EVENT,
    CHECKPOINT_SIGNATURE_KEY,
    chain_events,
    chain_scope,
    chain_walk,
    checkpoint_signature,
)
from apps.audit.models import AuditChainHead, AuditEvent
from apps.audit.services import Actor, AuditEntry, Source, Target, _build_event

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExpiredPrefix:
    """The expired start of a chain: its first and last event and its size."""

    first_id: str
    last_id: str
    last_sequence: int
    last_previous_hash: str
    last_hash: str
    count: int


def expired_prefix(*, workspace_id_or_none, before: datetime) -> ExpiredPrefix | None:
    """Return the chain's expired prefix, or None when there is nothing to remove.

    A prefix that is only an earlier checkpoint is not removed, because the new
    checkpoint would record the same removal.
    """
    events = chain_events(workspace_id_or_none)
    first = events.order_by("sequence").first()
    if first is None:
        return None

    kept_from = (
        events.filter(occurred_at__gte=before)
        .order_by("sequence")
        .values_list("sequence", flat=True)
        .first()
    )
    expired = events if kept_from is None else events.filter(sequence__lt=kept_from)
    last = expired.order_by("-sequence").first()
    if last is None:
        return None

    if last.pk == first.pk and first.event_name == CHECKPOINT_EVENT:
        return None
    return ExpiredPrefix(
        first_id=str(first.pk),
        last_id=str(last.pk),
        last_sequence=last.sequence,
        last_previous_hash=last.previous_hash,
        last_hash=last.hash,
        count=expired.count(),
    )


def _checkpoint(head, prefix: ExpiredPrefix, before: datetime, now) -> AuditEvent:
    entry = AuditEntry(
        event_name=CHECKPOINT_EVENT,
        outcome="completed",
        summary=(
            f"Retention removed {prefix.count} audit events through sequence "
            f"{prefix.last_sequence}."
        ),
        actor=Actor.system("audit retention"),
        source=Source(kind="worker", trust="server"),
        target=Target(type="audit_chain", id=head.scope),
        metadata={
            "removedThroughSequence": prefix.last_sequence,
            "removedThroughHash": prefix.last_hash,
            "removedCount": prefix.count,
            "before": before.isoformat(),
        },
    )
    event = _build_event(head.workspace, entry)
    event.occurred_at = now
    event.sequence = prefix.last_sequence
    event.previous_hash = prefix.last_previous_hash
    event.hash = prefix.last_hash

    event.metadata[CHECKPOINT_SIGNATURE_KEY] = checkpoint_signature(event)
    return event


def _replace_prefix(head_id, workspace_id, prefix, before, now) -> int:
    """Delete the prefix and insert its checkpoint while the chain head is locked.

    The prefix is computed again under the lock. If another run changed it
    meanwhile, this run leaves the chain alone.
    """
    with transaction.atomic():
        head = AuditChainHead.objects.select_for_update().get(pk=head_id)
        current = expired_prefix(workspace_id_or_none=workspace_id, before=before)
        if current != prefix:
            logger.info("audit retention skipped a changed chain: scope=%s", head.scope)
            return 0

        # This is the only path in the application that deletes audit events.
        removed, _ = (
            chain_events(workspace_id)
            .filter(sequence__lte=prefix.last_sequence)
            .delete()
        )
        checkpoint = _checkpoint(head, prefix, before, now)
        checkpoint.save(force_insert=True)

    logger.info(
        "audit retention removed a prefix: scope=%s removed=%s checkpoint=%s",
        head.scope,
        removed,
        checkpoint.pk,
    )
    return removed


def _retain_chain(head_id, workspace_id, before: datetime, now: datetime) -> int:
    scope = chain_scope(workspace_id)
    prefix = expired_prefix(workspace_id_or_none=workspace_id, before=before)
    if prefix is None:
        return 0

    # A broken prefix is kept as evidence, because a checkpoint would hide the
    # break.
    broken = chain_walk(
        workspace_id_or_none=workspace_id, through_sequence=prefix.last_sequence
    )
    if broken is not None:
        logger.warning(
            "audit retention kept a broken prefix: scope=%s sequence=%s id=%s",
            scope,
            broken.sequence,
            broken.event_id,
        )
        return 0

    return _replace_prefix(head_id, workspace_id, prefix, before, now)


def retention_apply(*, now: datetime | None = None) -> int:
    """Remove the expired prefix of every chain and return the rows deleted."""
    now = now or timezone.now()
    before = now - timedelta(days=settings.SECOND_AUDIT_RETENTION_DAYS)
    # One row of ids per chain, so the list is small and no cursor stays open
    # across the deletes.
    heads = list(
        AuditChainHead.objects.order_by("scope").values_list("pk", "workspace_id")
    )

    removed = 0
    for head_id, workspace_id in heads:
        removed += _retain_chain(head_id, workspace_id, before, now)

    logger.info("audit retention ran: removed=%s", removed)
    return removed
