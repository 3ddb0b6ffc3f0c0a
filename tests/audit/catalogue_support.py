"""What every catalogue test shares: the registry of tested names and the event check.

A test that triggers a catalogue event is marked `@emits("event.name")` and ends
with `assert_event`, which finds the event the trigger wrote and checks the
fields every event must have. `tests/audit/test_catalogue.py` fails when a
catalogue name has no marked test, or when no code under `apps/` names it.
"""

import json
import re
from pathlib import Path

from apps.audit.catalogue import EVENTS
from apps.audit.chain import checkpoint_signature
from apps.audit.models import AuditEvent
from apps.audit.services import OUTCOMES, event_digest
from tests.support.canary import assert_no_canary

# Event name -> the tests marked as triggering it, as "file.py::test_name". The
# key does not depend on the module's import name, so a module that is imported
# twice under two names registers each test once.
TESTED: dict[str, set[str]] = {}

# A value the catalogue tests pass wherever a secret, token, password or key
# goes, so that `assert_event` can look for it in the stored event.
CANARY = "canary-Vx7qLm2RtZ9wPk4N"

ACTOR_KINDS = ("user", "system", "agent", "worker")
SOURCE_KINDS = ("web", "worker", "app_agent")
SHORT_HASH = re.compile(r"^([0-9a-f]{16})?$")


def emits(event_name: str):
    """Mark a test as the one that triggers `event_name` and checks its event."""

    def mark(test):
        source = Path(test.__code__.co_filename).name
        TESTED.setdefault(event_name, set()).add(f"{source}::{test.__name__}")
        return test

    return mark


def event_text(event: AuditEvent) -> str:
    """Return every stored column of `event` as one text, for the canary search."""
    values = {
        field.attname: getattr(event, field.attname)
        for field in AuditEvent._meta.concrete_fields
    }
    return json.dumps(values, default=str, sort_keys=True)


def assert_event(
    event_name: str,
    *,
    workspace,
    outcome: str | None = None,
    actor=None,
    source_kind: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    canaries: tuple[str, ...] = (CANARY,),
) -> AuditEvent:
    """Return the newest `event_name` event of `workspace` after checking it.

    `workspace` None means the global chain. `actor` is the user expected as the
    actor; the other keywords, when given, are compared with the stored columns.
    The event must be in the catalogue's category and have a known outcome,
    actor kind and source kind, a summary, and short hashes for IP and user
    agent. A web event must have a request id. Its chain hash must match its
    content, and no column may contain any of `canaries`.
    """
    event = (
        AuditEvent.objects.filter(event_name=event_name, workspace=workspace)
        .order_by("-sequence")
        .first()
    )
    assert event is not None, f"no {event_name} event was recorded in {workspace}"

    assert event.category == EVENTS[event_name]
    assert event.outcome in OUTCOMES
    assert event.actor_kind in ACTOR_KINDS
    assert event.source_kind in SOURCE_KINDS
    assert event.summary
    assert SHORT_HASH.match(event.ip_hash)
    assert SHORT_HASH.match(event.user_agent_hash)
    # A checkpoint carries the hash of the last event it replaced, and its own
    # signature in its metadata.
    if event_name == "audit.checkpoint":
        assert event.metadata["checkpointSignature"] == checkpoint_signature(event)
    else:
        assert event.hash == event_digest(event)

    if outcome is not None:
        assert event.outcome == outcome
    if actor is not None:
        assert (event.actor_kind, event.actor_id) == ("user", str(actor.pk))
    if source_kind is not None:
        assert event.source_kind == source_kind
    if event.source_kind == "web":
        assert event.request_id, f"the {event_name} event has no request id"
    if target_type is not None:
        assert event.target_type == target_type
    if target_id is not None:
        assert event.target_id == str(target_id)

    text = event_text(event)
    for canary in canaries:
        assert_no_canary(text, f"the {event_name} event", canary)
    return event
