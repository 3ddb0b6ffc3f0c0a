"""Query parameters and the read model of the audit log routes."""

import difflib

from rest_framework import serializers

from apps.audit.catalogue import EVENTS
from apps.audit.models import AuditEvent
from apps.audit.selectors import AuditFilters
from apps.audit.services import OUTCOMES

DEFAULT_LIMIT = 100
MAX_LIMIT = 200
CATEGORIES = tuple(sorted(set(EVENTS.values())))
EVENT_NAMES = tuple(sorted(EVENTS))


class AuditRangeQuery(serializers.Serializer):
    """The time range of the list and the summary, in ISO 8601: `since` is
    included and `until` excluded."""

    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)

    def validate(self, attrs):
        # An empty or reversed range selects nothing, so it is a mistake. The
        # export command rejects it too.
        since, until = attrs.get("since"), attrs.get("until")
        if since is not None and until is not None and since >= until:
            message = (
                f"since {since.isoformat()} must be earlier than until "
                f"{until.isoformat()}. Pass an earlier since or a later until."
            )
            raise serializers.ValidationError({"until": [message]})

        return attrs


class AuditListQuery(AuditRangeQuery):
    """The filters, page size and cursor of the event list."""

    # Checked against the catalogue and OUTCOMES, which also bound their length.
    category = serializers.CharField(required=False)
    outcome = serializers.CharField(required=False)
    eventName = serializers.CharField(required=False)  # noqa: N815
    targetType = serializers.CharField(required=False, max_length=64)  # noqa: N815
    targetId = serializers.CharField(required=False, max_length=64)  # noqa: N815
    # Actor ids are user UUIDs and the agent ids of agents.json, so any text is
    # a possible id.
    actorId = serializers.CharField(required=False, max_length=64)  # noqa: N815
    appId = serializers.UUIDField(  # noqa: N815
        required=False,
        error_messages={
            "invalid": "{value!r} is not a valid app id. Pass the `id` of an app, "
            "a UUID such as 3f0c8a52-6a1e-4b8e-9d0f-2a7c1e5b4d93."
        },
    )
    limit = serializers.IntegerField(
        required=False,
        error_messages={"invalid": f"Pass a whole number from 1 to {MAX_LIMIT}."},
    )
    cursor = serializers.CharField(required=False, max_length=500)

    def validate_category(self, value: str) -> str:
        return known_value(value, CATEGORIES, "an audit category")

    def validate_outcome(self, value: str) -> str:
        return known_value(value, OUTCOMES, "an audit outcome")

    def validate_eventName(self, value: str) -> str:  # noqa: N802
        return known_value(value, EVENT_NAMES, "an audit event name")

    def validate_limit(self, value: int) -> int:
        # A limit above MAX_LIMIT is clamped, but one below 1 would return no
        # events, so it is rejected.
        if value < 1:
            raise serializers.ValidationError(
                f"{value} is less than 1. Pass a limit from 1 to {MAX_LIMIT}. "
                f"A larger limit returns at most {MAX_LIMIT} events."
            )

        return value

    def validate(self, attrs):
        attrs = super().validate(attrs)

        # A target id is unique only within its type, so it needs targetType.
        if attrs.get("targetId") and not attrs.get("targetType"):
            raise serializers.ValidationError(
                {"targetId": ["targetType is missing. Pass it with targetId."]}
            )
        return attrs


def known_value(value: str, valid: tuple[str, ...], noun: str) -> str:
    """Return `value` if it is in `valid`, else raise a ValidationError that
    lists `valid` and suggests the closest entry."""
    if value in valid:
        return value

    message = f"{value!r} is not {noun}."
    close = difflib.get_close_matches(value, valid, n=1)
    if close:
        message += f" Did you mean {close[0]!r}?"
    raise serializers.ValidationError(f"{message} Use one of: {', '.join(valid)}.")


def clamp_limit(value: int | None) -> int:
    """Return `value` capped at MAX_LIMIT, or the default when it is absent.

    The query serializer has already rejected a limit below 1.
    """
    if value is None:
        return DEFAULT_LIMIT
    return min(value, MAX_LIMIT)


def filters_from(data: dict) -> AuditFilters:
    """Return the selector filters from validated query parameters."""
    return AuditFilters(
        category=data.get("category", ""),
        outcome=data.get("outcome", ""),
        event_name=data.get("eventName", ""),
        target_type=data.get("targetType", ""),
        target_id=data.get("targetId", ""),
        actor_id=data.get("actorId", ""),
        app_id=str(data.get("appId") or ""),
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
