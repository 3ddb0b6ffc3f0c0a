"""The one writer of audit events: sanitise, chain and insert."""

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from apps.audit.catalogue import category_of
from apps.audit.keys import HEAD_SALT, head_content, short_hash, sign
from apps.audit.models import AuditChainHead, AuditEvent
from apps.audit.sanitiser import clean_text, sanitise_metadata
from apps.core.middleware import current_request_id

logger = logging.getLogger(__name__)

OUTCOMES = ("success", "failure", "denied", "started", "completed")


@dataclass(frozen=True)
class Actor:
    kind: str  # user, system, agent or worker
    id: str = ""
    display: str = ""
    role: str = ""

    @classmethod
    def for_user(cls, user, role: str = "") -> "Actor":
        if user is None:
            return cls.system()
        return cls(kind="user", id=str(user.pk), display=user.name, role=role)

    @classmethod
    def system(cls, display: str = "system") -> "Actor":
        return cls(kind="system", display=display)


@dataclass(frozen=True)
class Source:
    kind: str = "web"  # web, worker or app_agent
    trust: str = ""
    request_id: str = ""
    ip_hash: str = ""
    user_agent_hash: str = ""

    @classmethod
    def for_command(cls) -> "Source":
        """Return the source of a `manage.py` command, with a run id of its own.

        A command has no request, so every event of one run shares this id
        instead, as the events of one request share the request id.
        """
        return cls(kind="worker", trust="ops_cli", request_id=f"cli-{uuid.uuid4().hex}")

    @classmethod
    def from_request(cls, request, trust: str = "authenticated") -> "Source":
        return cls(
            kind="web",
            trust=trust,
            request_id=getattr(request, "request_id", "") or current_request_id.get(),
            ip_hash=short_hash(request.META.get("REMOTE_ADDR", "")),
            user_agent_hash=short_hash(request.META.get("HTTP_USER_AGENT", "")),
        )


@dataclass(frozen=True)
class Target:
    type: str
    id: str = ""
    name: str = ""
    parent: str = ""


@dataclass
class AuditEntry:
    event_name: str
    outcome: str
    summary: str
    actor: Actor
    source: Source = field(default_factory=Source)
    target: Target | None = None
    severity: str = "info"
    action: str = ""
    metadata: dict | None = None
    changes: list | None = None
    related_ids: dict | None = None


# Every stored column but the hash itself is covered, so changing any of them
# breaks the chain at that event. The id and workspace are added as text.
DIGEST_FIELDS = (
    "sequence",
    "event_name",
    "category",
    "severity",
    "outcome",
    "action",
    "summary",
    "actor_kind",
    "actor_id",
    "actor_display",
    "actor_role",
    "source_kind",
    "source_trust",
    "request_id",
    "ip_hash",
    "user_agent_hash",
    "target_type",
    "target_id",
    "target_name",
    "target_parent",
    "changes",
    "related_ids",
    "metadata",
    "retention",
    "previous_hash",
)


def event_digest(event: AuditEvent) -> str:
    """Return the chain hash of `event`: SHA-256 of its canonical JSON content.

    The hash uses no key, so anyone can recompute it from an export.
    """
    content = {name: getattr(event, name) for name in DIGEST_FIELDS}
    content["id"] = str(event.pk)
    content["workspace"] = str(event.workspace_id or "")
    content["occurred_at"] = event.occurred_at.isoformat()
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _column_text(column: str, value: str) -> str:
    limit = AuditEvent._meta.get_field(column).max_length
    return clean_text(value or "", limit)


def _build_event(workspace, entry: AuditEntry) -> AuditEvent:
    if entry.outcome not in OUTCOMES:
        raise ValueError(f"audit outcome {entry.outcome!r} is not one of {OUTCOMES}")
    target = entry.target or Target(type="")
    source = entry.source
    # Names and summaries can contain what users typed or agents sent, so every
    # text is cleaned of control characters and cut to its column.
    text = _column_text
    return AuditEvent(
        workspace=workspace,
        occurred_at=timezone.now(),
        event_name=entry.event_name,
        category=category_of(entry.event_name),
        severity=entry.severity,
        outcome=entry.outcome,
        action=text("action", entry.action or entry.event_name.rsplit(".", 1)[-1]),
        summary=text("summary", entry.summary),
        actor_kind=entry.actor.kind,
        actor_id=text("actor_id", entry.actor.id),
        actor_display=text("actor_display", entry.actor.display),
        actor_role=text("actor_role", entry.actor.role),
        source_kind=source.kind,
        source_trust=source.trust,
        request_id=text("request_id", source.request_id or current_request_id.get()),
        ip_hash=source.ip_hash,
        user_agent_hash=source.user_agent_hash,
        target_type=text("target_type", target.type),
        target_id=text("target_id", target.id),
        target_name=text("target_name", target.name),
        target_parent=text("target_parent", target.parent),
        changes=sanitise_metadata({"changes": entry.changes or []})["changes"],
        related_ids=sanitise_metadata(entry.related_ids),
        metadata=sanitise_metadata(entry.metadata),
    )


def audit_record(*, workspace, entry: AuditEntry) -> AuditEvent:
    """Append one event to the workspace's chain and return it.

    The chain head row is locked only for this insert. Callers never hold it
    across a network call, because no network call happens inside a transaction.
    The event's time is read once the head is locked. So, on hosts whose clocks
    agree, an event later in the chain never has an earlier time, and readers
    that page by time see it first.
    """
    event = _build_event(workspace, entry)
    scope = str(workspace.pk) if workspace is not None else "global"
    with transaction.atomic():
        head, _ = AuditChainHead.objects.get_or_create(
            scope=scope, defaults={"workspace": workspace}
        )
        head = AuditChainHead.objects.select_for_update().get(pk=head.pk)
        event.occurred_at = timezone.now()
        event.sequence = head.last_sequence + 1
        event.previous_hash = head.last_hash
        event.hash = event_digest(event)
        event.save(force_insert=True)
        head.last_sequence = event.sequence
        head.last_hash = event.hash
        head.signature = sign(
            HEAD_SALT, head_content(scope, event.sequence, event.hash)
        )
        head.save(update_fields=["last_sequence", "last_hash", "signature"])
    logger.info(
        "audit event recorded: event=%s workspace=%s id=%s",
        event.event_name,
        scope,
        event.pk,
    )
    return event
