"""Verify a hash chain of audit events from its start to its chain head.

A chain starts either at sequence 1 with an empty `previous_hash`, or at an
`audit.checkpoint` event that retention left in place of the events it removed
(apps/audit/retention.py describes that scheme). From the start on, every event
must hash to its stored `hash`, follow the event before it at the next sequence
and carry that event's hash as its `previous_hash`. The last event must be the
one the chain head row names. A chain must exist once the application has
written to it: a workspace's from its creation, the global one from the first
sign-in.

Event hashes use no key, so an export can be checked without one. The two
places a database writer could otherwise shorten a chain are signed with the
Django secret key (apps/audit/keys.py): a checkpoint, where a chain may start
after sequence 1, and the chain head, which names the last event. So an event
edited, deleted or inserted outside `audit_record` shows, and so does a removed
prefix or tail, unless the writer also has the key or restores an older head
row together with the events before it.
"""

import copy
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model

from apps.audit.keys import (
    CHECKPOINT_SALT,
    HEAD_SALT,
    head_content,
    sign,
    signature_valid,
)
from apps.audit.models import AuditChainHead, AuditEvent
from apps.audit.services import event_digest
from apps.workspaces.models import Workspace

logger = logging.getLogger(__name__)

CHECKPOINT_EVENT = "audit.checkpoint"
CHECKPOINT_SIGNATURE_KEY = "checkpointSignature"
CHUNK_SIZE = 2000

CONTENT_CHANGED = "content changed"
LINK_BROKEN = "link broken"
SEQUENCE_GAP = "sequence gap"
MISSING_AFTER_HEAD = "missing after head"
MISSING_HEAD = "missing head"
SIGNATURE_INVALID = "signature invalid"
KEY_HINT = (
    "It was changed, forged, or signed with a key that is in neither "
    "DJANGO_SECRET_KEY nor DJANGO_SECRET_KEY_FALLBACKS."
)


@dataclass(frozen=True)
class ChainBreak:
    """The first broken link of a chain: where it is and what is wrong."""

    sequence: int
    event_id: str | None
    problem: str
    detail: str


@dataclass(frozen=True)
class ChainReport:
    """The result of verifying one chain: its event count and any break."""

    scope: str
    count: int
    first_sequence: int | None = None
    starts_at_checkpoint: bool = False
    broken: ChainBreak | None = None

    @property
    def intact(self) -> bool:
        return self.broken is None

    def describe(self) -> str:
        """Return one paragraph that names the first broken link or the count."""
        if self.broken is not None:
            event = self.broken.event_id or "none (no stored event)"
            return (
                f"Audit chain {self.scope} is broken at sequence "
                f"{self.broken.sequence}, event {event}: {self.broken.problem}. "
                f"{self.broken.detail}"
            )
        if self.count == 0:
            return f"Audit chain {self.scope} is intact: it has no events."
        start = "the checkpoint at " if self.starts_at_checkpoint else ""
        return (
            f"Audit chain {self.scope} is intact: {self.count} events from "
            f"{start}sequence {self.first_sequence}."
        )


def chain_scope(workspace_id_or_none) -> str:
    """Return the chain head scope of a workspace id, or "global" for None."""
    return "global" if workspace_id_or_none is None else str(workspace_id_or_none)


def chain_events(workspace_id_or_none):
    """Return the queryset of one chain's events, in no particular order."""
    if workspace_id_or_none is None:
        return AuditEvent.objects.filter(workspace__isnull=True)
    return AuditEvent.objects.filter(workspace_id=workspace_id_or_none)


def _break_at(event: AuditEvent, problem: str, detail: str) -> ChainBreak:
    return ChainBreak(event.sequence, str(event.pk), problem, detail)


def checkpoint_digest(event: AuditEvent) -> str:
    """Return the digest of a checkpoint's content without its own signature.

    It covers every column `event_digest` covers, metadata included, so a
    changed checkpoint shows although its `hash` is the removed event's hash.
    """
    unsigned = copy.copy(event)
    unsigned.metadata = {
        key: value
        for key, value in (event.metadata or {}).items()
        if key != CHECKPOINT_SIGNATURE_KEY
    }
    return event_digest(unsigned)


def checkpoint_signature(event: AuditEvent) -> str:
    """Return the signature of a checkpoint's content under the current key."""
    return sign(CHECKPOINT_SALT, checkpoint_digest(event))


def _check_checkpoint(event: AuditEvent) -> ChainBreak | None:
    metadata = event.metadata if isinstance(event.metadata, dict) else {}
    signature = metadata.get(CHECKPOINT_SIGNATURE_KEY)
    if not isinstance(signature, str) or not signature_valid(
        CHECKPOINT_SALT, checkpoint_digest(event), signature
    ):
        return _break_at(
            event,
            SIGNATURE_INVALID,
            f"The checkpoint's signature does not match its content. {KEY_HINT}",
        )

    if metadata.get("removedThroughSequence") != event.sequence:
        return _break_at(
            event, SEQUENCE_GAP, "The checkpoint's sequence is not the one it removed."
        )

    if metadata.get("removedThroughHash") != event.hash:
        return _break_at(
            event, LINK_BROKEN, "The checkpoint's hash is not the one it removed."
        )
    return None


def _check_start(event: AuditEvent) -> ChainBreak | None:
    if event.event_name == CHECKPOINT_EVENT:
        return _check_checkpoint(event)

    if event_digest(event) != event.hash:
        return _break_at(
            event, CONTENT_CHANGED, "The stored hash does not match the content."
        )

    if event.sequence != 1:
        return _break_at(
            event,
            SEQUENCE_GAP,
            f"The chain starts at sequence {event.sequence} without a checkpoint.",
        )

    if event.previous_hash:
        return _break_at(
            event, LINK_BROKEN, "The first event links to an earlier hash."
        )
    return None


def _check_next(event: AuditEvent, previous: AuditEvent) -> ChainBreak | None:
    if event_digest(event) != event.hash:
        return _break_at(
            event, CONTENT_CHANGED, "The stored hash does not match the content."
        )

    if event.sequence != previous.sequence + 1:
        return _break_at(
            event,
            SEQUENCE_GAP,
            f"Sequence {previous.sequence} is followed by {event.sequence}.",
        )

    if event.previous_hash != previous.hash:
        return _break_at(
            event,
            LINK_BROKEN,
            f"The previous hash is not the hash of sequence {previous.sequence}.",
        )
    return None


@dataclass
class _Walk:
    """The state of a walk: events checked, the first and last, any break."""

    count: int = 0
    first: AuditEvent | None = None
    last: AuditEvent | None = None
    broken: ChainBreak | None = None


def _check_event(event: AuditEvent, previous: AuditEvent | None) -> ChainBreak | None:
    """Check one event against the one before it, or as the start of the chain.

    A column edited in the database to a value of another type cannot be
    hashed: bytes in a text column, or a time that does not parse. That is a
    break at the event, not an error of the verification.
    """
    try:
        if previous is None:
            return _check_start(event)
        return _check_next(event, previous)
    except (TypeError, ValueError, AttributeError):
        return _break_at(
            event,
            CONTENT_CHANGED,
            "A stored column holds a value of the wrong type, so the event "
            "cannot be hashed.",
        )


def _walk(events: Iterable[AuditEvent]) -> _Walk:
    """Check events in sequence order and stop at the first broken link."""
    walk = _Walk()
    for event in events:
        walk.broken = _check_event(event, walk.last)
        if walk.first is None:
            walk.first = event

        if walk.broken is not None:
            return walk
        walk.count += 1
        walk.last = event
    return walk


@dataclass(frozen=True)
class _Head:
    """A chain head row as read, or an empty head for a chain without one."""

    sequence: int = 0
    hash: str = ""
    signature: str | None = None


def _head_of(scope: str) -> _Head:
    head = AuditChainHead.objects.filter(scope=scope).first()
    if head is None:
        return _Head()
    return _Head(head.last_sequence, head.last_hash, head.signature)


def _check_head(scope: str, head: _Head) -> ChainBreak | None:
    """Check that `audit_record` signed the head row with its current values."""
    if head.signature is None:
        return None

    content = head_content(scope, head.sequence, head.hash)
    if signature_valid(HEAD_SALT, content, head.signature):
        return None
    return ChainBreak(
        head.sequence,
        None,
        SIGNATURE_INVALID,
        f"The chain head's signature does not match its sequence and hash. {KEY_HINT}",
    )


def _chain_expected(workspace_id_or_none) -> bool:
    """Return whether the chain must exist: the application has written to it.

    A workspace's first event is written in the transaction that creates it.
    The global chain receives every sign-in, so it exists once anyone has
    signed in.
    """
    if workspace_id_or_none is not None:
        return Workspace.objects.filter(pk=workspace_id_or_none).exists()
    return get_user_model().objects.filter(last_login__isnull=False).exists()


def _check_exists(workspace_id_or_none, head: _Head) -> ChainBreak | None:
    """Find a chain removed whole, events and chain head together."""
    if head.signature is not None or not _chain_expected(workspace_id_or_none):
        return None
    return ChainBreak(
        1,
        None,
        MISSING_HEAD,
        "The chain has no chain head, though the application has written to it: "
        "its events and chain head were removed.",
    )


def _check_tail(last: AuditEvent | None, head: _Head) -> ChainBreak | None:
    head_sequence, head_hash = head.sequence, head.hash
    if last is None and head_sequence > 0:
        return ChainBreak(
            1,
            None,
            MISSING_AFTER_HEAD,
            f"The chain head is at sequence {head_sequence} but no event is stored.",
        )

    if last is not None and last.sequence < head_sequence:
        return ChainBreak(
            last.sequence + 1,
            None,
            MISSING_AFTER_HEAD,
            f"The chain head is at sequence {head_sequence} but the last stored "
            f"event is {last.pk} at sequence {last.sequence}.",
        )

    if last is not None and last.hash != head_hash:
        return _break_at(last, LINK_BROKEN, "The chain head contains a different hash.")
    return None


def _check_beyond_head(workspace_id_or_none, head_sequence: int) -> ChainBreak | None:
    """Find an event past the chain head that `audit_record` did not write.

    Events appended during the walk are past the head read before it. So the
    head is read again after the newest event, because `audit_record` commits
    each event together with its head.
    """
    events = chain_events(workspace_id_or_none)
    newest = events.filter(sequence__gt=head_sequence).order_by("-sequence").first()
    if newest is None:
        return None

    current_sequence = _head_of(chain_scope(workspace_id_or_none)).sequence
    if newest.sequence <= current_sequence:
        return None

    stray = events.filter(sequence__gt=current_sequence).order_by("sequence").first()
    return _break_at(
        stray,
        LINK_BROKEN,
        f"The event is past the chain head at sequence {current_sequence}.",
    )


def chain_walk(*, workspace_id_or_none, through_sequence: int) -> ChainBreak | None:
    """Return the first broken link up to `through_sequence`, ignoring the head."""
    events = (
        chain_events(workspace_id_or_none)
        .filter(sequence__lte=through_sequence)
        .order_by("sequence")
        .iterator(chunk_size=CHUNK_SIZE)
    )
    return _walk(events).broken


def chain_verify(*, workspace_id_or_none) -> ChainReport:
    """Verify one chain, a workspace's or the global one, in constant memory.

    The head is read before the walk, and only events up to it are walked, so an
    event appended meanwhile neither breaks the walk nor goes unchecked later.
    """
    scope = chain_scope(workspace_id_or_none)
    head = _head_of(scope)
    events = (
        chain_events(workspace_id_or_none)
        .filter(sequence__lte=head.sequence)
        .order_by("sequence")
        .iterator(chunk_size=CHUNK_SIZE)
    )
    walk = _walk(events)

    broken = (
        walk.broken
        or _check_head(scope, head)
        or _check_exists(workspace_id_or_none, head)
        or _check_tail(walk.last, head)
        or _check_beyond_head(workspace_id_or_none, head.sequence)
    )
    report = ChainReport(
        scope=scope,
        count=walk.count,
        first_sequence=walk.first.sequence if walk.first is not None else None,
        starts_at_checkpoint=(
            walk.first is not None and walk.first.event_name == CHECKPOINT_EVENT
        ),
        broken=broken,
    )

    _log(report)
    return report


def _log(report: ChainReport) -> None:
    if report.broken is None:
        logger.info(
            "audit chain intact: scope=%s events=%s", report.scope, report.count
        )
        return
    logger.warning(
        "audit chain broken: scope=%s sequence=%s id=%s problem=%s",
        report.scope,
        report.broken.sequence,
        report.broken.event_id,
        report.broken.problem,
    )
