"""Query parameters and the read model of the audit log routes."""

from rest_framework import serializers

from apps.audit.models import AuditEvent
from apps.audit.selectors import AuditFilters

DEFAULT_LIMIT = 100
MAX_LIMIT = 200


class AuditRangeQuery(serializers.Serializer):
    """The time range of the list and the summary, in ISO 8601."""

    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)


class AuditListQuery(AuditRangeQuery):
    """The filters, page size and cursor of the event list."""

    category = serializers.CharField(required=False, max_length=32)
    outcome = serializers.CharField(required=False, max_length=16)
    eventName = serializers.CharField(required=False, max_length=64)  # noqa: N815
    targetType = serializers.CharField(required=False, max_length=64)  # noqa: N815
    targetId = serializers.CharField(required=False, max_length=64)  # noqa: N815
    actorId = serializers.CharField(required=False, max_length=64)  # noqa: N815
    appId = serializers.CharField(required=False, max_length=64)  # noqa: N815
    limit = serializers.IntegerField(required=False)
    cursor = serializers.CharField(required=False, max_length=500)

    def validate(self, attrs):
        # A target id is unique only within its type, so it needs targetType.
        if attrs.get("targetId") and not attrs.get("targetType"):
            raise serializers.ValidationError(
                {"targetId": ["targetType is missing. Pass it with targetId."]}
            )
        return attrs


def clamp_limit(value: int | None) -> int:
    """Return `value` within 1..MAX_LIMIT, or the default when it is absent."""
    if value is None:
        return DEFAULT_LIMIT
    return max(1, min(value, MAX_LIMIT))


def filters_from(data: dict) -> AuditFilters:
    """Return the selector filters from validated query parameters."""
    return AuditFilters(
        category=data.get("category", ""),
        outcome=data.get("outcome", ""),
        event_name=data.get("eventName", ""),
        target_type=data.get("targetType", ""),
        target_id=data.get("targetId", ""),
        actor_id=data.get("actorId", ""),
        app_id=data.get("appId", ""),
        since=data.get("since"),
        until=data.get("until"),
    )


def audit_event_body(event: AuditEvent) -> dict:
    """Return the read model of one event, with an empty text as null."""
    return {
        "id": str(event.pk),
        "occurredAt": event.occurred_at.isoformat(),
        "eventName": event.event_name,
        "category": event.category,
        "severity": event.severity,
        "outcome": event.outcome,
        "action": event.action,
        "summary": event.summary,
        "actor": {
            "kind": event.actor_kind,
            "id": event.actor_id or None,
            "display": event.actor_display,
            "role": event.actor_role or None,
        },
        "source": {
            "kind": event.source_kind,
            "trust": event.source_trust or None,
            "requestId": event.request_id or None,
            "ipHash": event.ip_hash or None,
            "userAgentHash": event.user_agent_hash or None,
        },
        "target": {
            "type": event.target_type or None,
            "id": event.target_id or None,
            "name": event.target_name or None,
            "parent": event.target_parent or None,
        },
        "changes": event.changes,
        "relatedIds": event.related_ids,
        "metadata": event.metadata,
        "retention": event.retention,
        "sequence": event.sequence,
        "previousHash": event.previous_hash or None,
        "hash": event.hash,
    }
