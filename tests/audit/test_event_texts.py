"""What callers type never reaches an event's texts as typed.

A denied request is recorded by its URL pattern, because its path is whatever
the caller typed, a token pasted by mistake included. Every text column of an
event is cleaned of control characters, line separators and bidirectional
overrides, which could forge a line in a log view or reorder text on screen.
"""

import uuid

import pytest

from apps.audit.models import AuditEvent
from apps.audit.services import Actor, AuditEntry, Target, audit_record
from tests.audit.catalogue_support import event_text
from tests.support.canary import assert_no_canary

PASTED_TOKEN = "pat_CANARY_pasted_into_a_path_4d1f"
HOSTILE = "a\nforged line\x1b[31m\u202eevil\u2028\x00end"
HOSTILE_CHARACTERS = ("\n", "\x1b", "\u202e", "\u2028", "\x00")
DETAIL_ROUTE = "/api/workspaces/<str:workspace_id>/audit-events/<str:event_id>"


def denial(world) -> AuditEvent:
    return AuditEvent.objects.get(workspace=world.workspace, event_name="access.denied")


def test_denied_path_token_not_stored(world):
    response = world.member.get(f"{world.base}/audit-events/{PASTED_TOKEN}")

    assert response.status_code == 403
    assert_no_canary(event_text(denial(world)), "the denial", PASTED_TOKEN)


def test_denied_path_names_route(world):
    world.member.get(f"{world.base}/audit-events/{PASTED_TOKEN}")

    event = denial(world)

    assert event.target_name == DETAIL_ROUTE
    assert event.target_id == "audit-event"
    assert event.summary.endswith(f"GET {DETAIL_ROUTE}")


def test_denied_path_keeps_only_ids(world):
    world.member.get(f"{world.base}/audit-events/{PASTED_TOKEN}")

    assert denial(world).related_ids == {"workspaceId": str(world.workspace.pk)}


def test_denied_path_keeps_event_id(world):
    event_id = uuid.uuid4()
    world.member.get(f"{world.base}/audit-events/{event_id}")

    assert denial(world).related_ids == {
        "workspaceId": str(world.workspace.pk),
        "eventId": str(event_id),
    }


def test_denied_control_characters_dropped(world):
    world.member.get(f"{world.base}/audit-events/%0a%1b[31m%e2%80%ae%00x")

    text = event_text(denial(world))

    for character in HOSTILE_CHARACTERS:
        assert character not in text


def record_hostile(workspace, column: str) -> AuditEvent:
    texts = {"summary": "A summary.", "actor": "Ada", "target": "Release notifier"}
    texts[column] = HOSTILE
    return audit_record(
        workspace=workspace,
        entry=AuditEntry(
            event_name="app.created",
            outcome="success",
            summary=texts["summary"],
            actor=Actor(kind="user", id="user-1", display=texts["actor"]),
            target=Target(type="app", id="app-1", name=texts["target"]),
        ),
    )


@pytest.mark.parametrize(
    ("column", "field"),
    [
        ("summary", "summary"),
        ("actor", "actor_display"),
        ("target", "target_name"),
    ],
)
def test_text_column_cleaned(world, column, field):
    stored = getattr(record_hostile(world.workspace, column), field)

    assert stored == "a forged line [31m evil  end"


def test_long_target_name_cut(world):
    event = audit_record(
        workspace=world.workspace,
        entry=AuditEntry(
            event_name="app.created",
            outcome="success",
            summary="A summary.",
            actor=Actor.system(),
            target=Target(type="app", name="n" * 500),
        ),
    )

    assert len(event.target_name) == 200
    assert event.target_name.endswith("…")


@pytest.mark.parametrize(
    "character",
    ["\u061c", "\u200b", "\u200d", "\ufeff", "\u2060", "\u2064", "\u180e", "\xad"],
)
def test_invisible_character_replaced(world, character):
    event = audit_record(
        workspace=world.workspace,
        entry=AuditEntry(
            event_name="app.created",
            outcome="success",
            summary=f"Release{character}notifier",
            actor=Actor.system(),
        ),
    )

    assert event.summary == "Release notifier"
