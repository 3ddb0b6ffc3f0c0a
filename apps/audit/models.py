import uuid

from django.db import models


class AuditEvent(models.Model):
    """An append-only, workspace-scoped record of something that matters.

    Each workspace's events form a hash chain: `sequence` counts from 1,
    `previous_hash` is the hash of the event before and `hash` covers this event's
    canonical content and `previous_hash`. Metadata is sanitised before it is
    stored and never contains a secret, a header value or a body.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        "workspaces.Workspace",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
    )
    occurred_at = models.DateTimeField()
    event_name = models.CharField(max_length=64)
    category = models.CharField(max_length=32)
    severity = models.CharField(max_length=16, default="info")
    outcome = models.CharField(max_length=16)
    action = models.CharField(max_length=64)
    summary = models.CharField(max_length=500)
    actor_kind = models.CharField(max_length=16)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_display = models.CharField(max_length=150, blank=True)
    actor_role = models.CharField(max_length=16, blank=True)
    source_kind = models.CharField(max_length=16)
    source_trust = models.CharField(max_length=32, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    ip_hash = models.CharField(max_length=16, blank=True)
    user_agent_hash = models.CharField(max_length=16, blank=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_name = models.CharField(max_length=200, blank=True)
    target_parent = models.CharField(max_length=64, blank=True)
    changes = models.JSONField(default=list, blank=True)
    related_ids = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    retention = models.CharField(max_length=32, default="standard")
    sequence = models.PositiveBigIntegerField(default=0)
    previous_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-occurred_at", "-sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "sequence"], name="audit_event_unique_sequence"
            )
        ]
        indexes = [
            models.Index(fields=["workspace", "-occurred_at"]),
            models.Index(fields=["workspace", "category", "-occurred_at"]),
            models.Index(fields=["workspace", "event_name", "-occurred_at"]),
            models.Index(fields=["workspace", "outcome", "-occurred_at"]),
            models.Index(fields=["workspace", "target_type", "target_id"]),
            models.Index(fields=["workspace", "actor_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.event_name} at {self.occurred_at:%Y-%m-%d %H:%M:%S}"


class AuditChainHead(models.Model):
    """The last link of a workspace's event chain, locked only while one event is
    inserted."""

    workspace = models.OneToOneField(
        "workspaces.Workspace",
        null=True,
        on_delete=models.CASCADE,
        related_name="audit_chain_head",
    )
    scope = models.CharField(max_length=64, unique=True)
    last_sequence = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, blank=True)
    # An HMAC of the scope, sequence and hash under the Django secret key, so a
    # database writer cannot move the head to a shorter chain without the key.
    signature = models.CharField(max_length=64, blank=True, db_default="")

    def __str__(self) -> str:
        return f"chain head {self.scope} at {self.last_sequence}"
