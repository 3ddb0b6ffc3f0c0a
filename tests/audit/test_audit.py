"""The audit sanitiser, the chained writer and the event catalogue."""

import copy
import hashlib
import json
import re
import uuid
from datetime import timedelta

import pytest

from apps.audit import services
from apps.audit.catalogue import EVENTS
from apps.audit.models import AuditEvent
from apps.audit.sanitiser import (
    MAX_BYTES,
    MAX_ITEMS,
    MAX_KEYS,
    MAX_STRING,
    REDACTED,
    sanitise_metadata,
)
from apps.audit.services import Actor, AuditEntry, Source, Target, audit_record
from apps.workspaces.models import Workspace

# Sanitiser limits.


def test_limits_match_contract():
    limits = (MAX_BYTES, MAX_STRING, MAX_ITEMS, MAX_KEYS)
    assert limits == (8 * 1024, 512, 25, 50)


def test_long_string_cut():
    cleaned = sanitise_metadata({"note": "x" * 600})
    assert len(cleaned["note"]) <= 512


def test_long_string_keeps_start():
    cleaned = sanitise_metadata({"note": "ab" * 300})
    assert cleaned["note"].startswith("ab" * 200)


def test_string_at_limit_kept():
    assert sanitise_metadata({"note": "x" * 512}) == {"note": "x" * 512}


def test_long_list_keeps_25():
    cleaned = sanitise_metadata({"ids": list(range(30))})
    kept = [item for item in cleaned["ids"] if isinstance(item, int)]
    assert kept == list(range(25))


def test_list_at_limit_kept():
    assert sanitise_metadata({"ids": list(range(25))}) == {"ids": list(range(25))}


def test_wide_object_keeps_50():
    wide = {f"k{index:02}": index for index in range(60)}
    cleaned = sanitise_metadata({"wide": wide})
    kept = [key for key in cleaned["wide"] if key in wide]
    assert kept == [f"k{index:02}" for index in range(50)]


def test_object_at_limit_kept():
    wide = {f"k{index:02}": index for index in range(50)}
    assert sanitise_metadata({"wide": wide}) == {"wide": wide}


def nested(depth: int) -> dict:
    """Return `depth` nested objects, the innermost containing a string leaf."""
    value: object = "leaf"
    for level in range(depth, 0, -1):
        value = {f"level{level}": value}
    return value


def test_depth_five_kept():
    assert sanitise_metadata(nested(5)) == nested(5)


def test_depth_six_cut():
    cleaned = json.dumps(sanitise_metadata(nested(6)))
    assert "leaf" not in cleaned


def test_depth_six_keeps_prefix():
    cleaned = json.dumps(sanitise_metadata(nested(6)))
    assert "level4" in cleaned


def json_bytes(value) -> int:
    return len(json.dumps(value, ensure_ascii=False).encode())


@pytest.mark.parametrize("letter", ["x", "é", "鍵"], ids=["ascii", "two bytes", "cjk"])
def test_large_metadata_bounded(letter):
    large = {f"k{index}": letter * 500 for index in range(40)}
    assert json_bytes(sanitise_metadata(large)) <= 8 * 1024


def test_metadata_under_limit_kept():
    fitting = {f"k{index}": "x" * 500 for index in range(14)}
    assert sanitise_metadata(fitting) == fitting


def test_empty_metadata_is_object():
    assert sanitise_metadata(None) == {}


# Redaction by key name.

REDACTED_KEYS = [
    "authorization",
    "Authorization",
    "proxy-authorization",
    "apiKey",
    "api_key",
    "x-api-key",
    "headers",
    "requestHeaders",
    "body",
    "responseBody",
    "prompt",
    "systemPrompt",
    "session",
    "sessionId",
    "cookie",
    "set-cookie",
    "token",
    "accessToken",
    "refresh_token",
    "password",
    "clientSecret",
    "secret",
    "message",
    "messages",
    "sourceFiles",
    "credentials",
    "privateKey",
    "signature",
]


@pytest.mark.parametrize("key", REDACTED_KEYS)
def test_sensitive_key_redacted(key):
    assert sanitise_metadata({key: "value-0000"}) == {key: REDACTED}


@pytest.mark.parametrize("key", ["authorization", "apiKey", "cookie"])
def test_nested_sensitive_redacted(key):
    cleaned = sanitise_metadata({"calls": [{"request": {key: "value-0000"}}]})
    assert cleaned["calls"][0]["request"][key] == REDACTED


def test_sensitive_object_redacted_whole():
    cleaned = sanitise_metadata({"headers": {"accept": "json", "x": "value-0000"}})
    assert cleaned == {"headers": REDACTED}


KEPT_KEYS = ["code", "permission", "agentId", "status", "domain", "sourceVersion"]


@pytest.mark.parametrize("key", KEPT_KEYS)
def test_plain_key_kept(key):
    assert sanitise_metadata({key: "value"}) == {key: "value"}


# Control characters: every C0 character and DEL, two C1 characters (NEL, a line
# break, and CSI, which starts a terminal escape sequence) and the two Unicode
# line and paragraph separators.

CONTROL_CHARACTERS = [chr(code) for code in range(0x20)] + [
    "\x7f",
    "\x85",
    "\x9b",
    "\u2028",
    "\u2029",
]


@pytest.mark.parametrize(
    "character", CONTROL_CHARACTERS, ids=[f"U+{ord(c):04X}" for c in CONTROL_CHARACTERS]
)
def test_control_character_removed(character):
    cleaned = sanitise_metadata({"note": f"a{character}b"})
    assert character not in cleaned["note"]


@pytest.mark.parametrize("character", ["\n", "\x1b", "\u2028", "\x85"])
def test_control_in_key_removed(character):
    cleaned = sanitise_metadata({f"a{character}b": "value"})
    assert [key for key in cleaned if character in key] == []


@pytest.mark.parametrize("character", ["\n", "\u2028"])
def test_control_in_list_removed(character):
    cleaned = sanitise_metadata({"notes": [f"a{character}b"]})
    assert character not in cleaned["notes"][0]


# The chained writer.


@pytest.fixture
def empty_workspace(db):
    """A workspace created without the service, so its chain has no events yet."""
    return Workspace.objects.create(name="Chain A", slug="chain-a")


@pytest.fixture
def second_workspace(db):
    return Workspace.objects.create(name="Chain B", slug="chain-b")


def entry(summary: str, **fields) -> AuditEntry:
    return AuditEntry(
        event_name=fields.pop("event_name", "app.created"),
        outcome=fields.pop("outcome", "success"),
        summary=summary,
        actor=Actor(kind="user", id="user-1", display="Ada", role="owner"),
        source=Source(kind="web", trust="authenticated", request_id="req-00000001"),
        target=Target(type="app", id="app-1", name="Notifier", parent="ws"),
        **fields,
    )


def record(workspace, count: int, prefix: str = "event") -> list[AuditEvent]:
    for index in range(count):
        audit_record(
            workspace=workspace,
            entry=entry(
                f"{prefix} {index}",
                metadata={"index": index, "authorization": "Bearer value-0000"},
                changes=[{"field": "name", "before": "a", "after": "b"}],
                related_ids={"runId": f"run-{index}"},
            ),
        )
    return list(AuditEvent.objects.filter(workspace=workspace).order_by("sequence"))


# The columns the chain hash covers: every stored field of the event except its
# id, its workspace (added as text) and the hash itself.
HASHED_COLUMNS = [
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
]


def recomputed_hash(event: AuditEvent) -> str:
    """Compute the chain hash of a row from its stored columns: SHA-256 of the
    canonical JSON (sorted keys, no spaces) of the hashed columns, the event id,
    the workspace id and the ISO 8601 time."""
    content = {name: getattr(event, name) for name in HASHED_COLUMNS}
    content["id"] = str(event.pk)
    content["workspace"] = str(event.workspace_id or "")
    content["occurred_at"] = event.occurred_at.isoformat()
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def test_chain_sequence_from_one(empty_workspace):
    events = record(empty_workspace, 3)
    assert [event.sequence for event in events] == [1, 2, 3]


def test_chain_first_previous_empty(empty_workspace):
    events = record(empty_workspace, 3)
    assert events[0].previous_hash == ""


def test_chain_links_previous(empty_workspace):
    events = record(empty_workspace, 3)
    links = [events[i].previous_hash == events[i - 1].hash for i in (1, 2)]
    assert links == [True, True]


def test_chain_hashes_distinct(empty_workspace):
    events = record(empty_workspace, 3)
    assert len({event.hash for event in events}) == 3


@pytest.mark.parametrize("index", [0, 1, 2])
def test_chain_hash_recomputes(empty_workspace, index):
    event = record(empty_workspace, 3)[index]
    assert recomputed_hash(event) == event.hash


def test_chain_tamper_detected(empty_workspace):
    event = record(empty_workspace, 3)[1]
    AuditEvent.objects.filter(pk=event.pk).update(summary="rewritten")
    tampered = AuditEvent.objects.get(pk=event.pk)
    assert recomputed_hash(tampered) != tampered.hash


def test_chains_independent(empty_workspace, second_workspace):
    for index in range(3):
        record(empty_workspace, 1, prefix=f"a{index}")
        record(second_workspace, 1, prefix=f"b{index}")
    sequences = [
        [
            e.sequence
            for e in AuditEvent.objects.filter(workspace=w).order_by("sequence")
        ]
        for w in (empty_workspace, second_workspace)
    ]
    assert sequences == [[1, 2, 3], [1, 2, 3]]


def test_second_chain_starts_empty(empty_workspace, second_workspace):
    record(empty_workspace, 2)
    first = record(second_workspace, 1)[0]
    assert first.previous_hash == ""


def test_chains_links_stay_inside(empty_workspace, second_workspace):
    for index in range(3):
        record(empty_workspace, 1, prefix=f"a{index}")
        record(second_workspace, 1, prefix=f"b{index}")
    events = list(AuditEvent.objects.filter(workspace=second_workspace))
    events.sort(key=lambda event: event.sequence)
    links = [events[i].previous_hash == events[i - 1].hash for i in (1, 2)]
    assert links == [True, True]


def test_stored_metadata_redacted(empty_workspace):
    event = record(empty_workspace, 1)[0]
    assert event.metadata["authorization"] == REDACTED


def test_stored_summary_bounded(empty_workspace):
    audit_record(workspace=empty_workspace, entry=entry("s" * 900))
    event = AuditEvent.objects.get(workspace=empty_workspace)
    assert len(event.summary) <= 500


def test_category_from_catalogue(empty_workspace):
    event = record(empty_workspace, 1)[0]
    assert event.category == EVENTS["app.created"]


def test_unknown_event_raises(empty_workspace):
    with pytest.raises(ValueError, match="app.exploded"):
        audit_record(
            workspace=empty_workspace, entry=entry("x", event_name="app.exploded")
        )


def test_unknown_event_writes_nothing(empty_workspace):
    with pytest.raises(ValueError):
        audit_record(workspace=empty_workspace, entry=entry("x", event_name="nope"))
    assert not AuditEvent.objects.filter(workspace=empty_workspace).exists()


def test_unknown_outcome_raises(empty_workspace):
    with pytest.raises(ValueError):
        audit_record(workspace=empty_workspace, entry=entry("x", outcome="maybe"))


# The chain hash must change when any stored field of the event changes, or an
# edit of that column would pass verification.

CHAINED_FIELDS = {
    "occurred_at": lambda event: event.occurred_at + timedelta(seconds=1),
    "event_name": lambda event: "app.deleted",
    "category": lambda event: "access",
    "severity": lambda event: "critical",
    "outcome": lambda event: "failure",
    "action": lambda event: "deleted",
    "summary": lambda event: "other summary",
    "actor_kind": lambda event: "system",
    "actor_id": lambda event: "user-2",
    "actor_display": lambda event: "Mallory",
    "actor_role": lambda event: "member",
    "source_kind": lambda event: "worker",
    "source_trust": lambda event: "internal_token",
    "request_id": lambda event: "req-99999999",
    "ip_hash": lambda event: "0123456789abcdef",
    "user_agent_hash": lambda event: "fedcba9876543210",
    "target_type": lambda event: "grant",
    "target_id": lambda event: "app-2",
    "target_name": lambda event: "Other",
    "target_parent": lambda event: "other-parent",
    "changes": lambda event: [],
    "related_ids": lambda event: {},
    "metadata": lambda event: {"index": 99},
    "retention": lambda event: "short",
    "sequence": lambda event: event.sequence + 1,
    "previous_hash": lambda event: "0" * 64,
    "id": lambda event: uuid.uuid4(),
}


@pytest.mark.parametrize("field", sorted(CHAINED_FIELDS))
def test_hash_covers_field(empty_workspace, field):
    event = record(empty_workspace, 1)[0]
    edited = copy.copy(event)
    setattr(edited, field, CHAINED_FIELDS[field](event))
    assert services.event_digest(edited) != event.hash


def test_chained_fields_cover_model():
    """Every column except the workspace and the hash is in the table."""
    columns = {field.attname for field in AuditEvent._meta.concrete_fields}
    expected = set(CHAINED_FIELDS) | {"hash", "workspace_id"}
    assert columns == expected


# Short hashes are keyed, so a guess cannot be checked without the secret key.


def test_short_hash_is_sixteen_hex():
    assert re.fullmatch(r"[0-9a-f]{16}", services.short_hash("127.0.0.1"))


def test_short_hash_not_plain_sha256():
    plain = hashlib.sha256(b"127.0.0.1").hexdigest()[:16]
    assert services.short_hash("127.0.0.1") != plain


def test_short_hash_depends_on_key(settings):
    before = services.short_hash("admin")
    settings.SECRET_KEY = "another-deployment-key-for-this-test"
    assert services.short_hash("admin") != before


def test_short_hash_of_empty_is_empty():
    assert services.short_hash("") == ""
