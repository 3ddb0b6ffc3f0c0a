"""`manage.py export_audit`: JSON lines and CSV, filters, its own audit event and
a server-side cursor with a constant number of queries on PostgreSQL."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from auditlog.models import LogEntry
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.export import audit_export
from apps.audit.models import AuditChainHead, AuditEvent
from apps.audit.services import (
    Actor,
    AuditEntry,
    Source,
    Target,
    audit_record,
    event_digest,
)
from apps.workspaces.teams import team_create

pytestmark = pytest.mark.django_db

DEC_2025 = datetime(2025, 12, 1, tzinfo=UTC)
JAN = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
MAR = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
MAY = datetime(2026, 5, 15, 12, 0, tzinfo=UTC)
FORMULA = '=HYPERLINK("http://evil.example","x")'


def record(workspace, name: str = "team.created", **metadata) -> AuditEvent:
    return audit_record(
        workspace=workspace,
        entry=AuditEntry(
            event_name=name,
            outcome="success",
            summary=f"{name} for the export test, with “quotes”, commas",
            actor=Actor(kind="user", id="u-1", display="Zoë"),
            target=Target(type="team", id="t-1", name="Ops"),
            metadata={"note": "x", "nested": {"n": 1}, **metadata},
            changes=[{"field": "name", "from": "a", "to": "b"}],
        ),
    )


@pytest.fixture
def events(world) -> list[AuditEvent]:
    """Record three events and return all of the workspace's, in chain order."""
    for index in range(3):
        record(world.workspace, index=index)
    return list(
        AuditEvent.objects.filter(workspace=world.workspace).order_by("sequence")
    )


def export(*options: str) -> tuple[str, str]:
    """Run the command and return its stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    call_command("export_audit", *options, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def jsonl_rows(*options: str) -> list[dict]:
    text, _ = export("--workspace", "acme", *options)
    return [json.loads(line) for line in text.splitlines()]


def csv_rows(*options: str) -> list[dict]:
    text, _ = export("--workspace", "acme", "--format", "csv", *options)
    return list(csv.DictReader(io.StringIO(text)))


def identity(rows) -> list[tuple[str, str, str]]:
    return [(str(row["id"]), row["event_name"], row["hash"]) for row in rows]


def stored_identity(events: list[AuditEvent]) -> list[tuple[str, str, str]]:
    return [(str(event.pk), event.event_name, event.hash) for event in events]


def dated(workspace) -> dict[str, AuditEvent]:
    """Move the workspace's events to 2025, then record one event in each of
    January, March and May 2026."""
    AuditEvent.objects.filter(workspace=workspace).update(occurred_at=DEC_2025)
    moments = {"jan": JAN, "mar": MAR, "may": MAY}
    found = {}
    for label, moment in moments.items():
        event = record(workspace, label=label)
        AuditEvent.objects.filter(pk=event.pk).update(occurred_at=moment)
        found[label] = event
    return found


# JSON lines.


def test_jsonl_matches_stored_events(events):
    assert identity(jsonl_rows()) == stored_identity(events)


def test_jsonl_keeps_nested_metadata(events):
    assert jsonl_rows()[-1]["metadata"] == events[-1].metadata


def test_jsonl_keeps_changes(events):
    assert jsonl_rows()[-1]["changes"] == events[-1].changes


def test_jsonl_rows_recompute_hashes(events):
    rebuilt = []
    for row in jsonl_rows():
        row["occurred_at"] = datetime.fromisoformat(row["occurred_at"])
        row["workspace_id"] = row.pop("workspace")
        rebuilt.append(event_digest(AuditEvent(**row)))
    assert rebuilt == [event.hash for event in events]


def test_workspace_found_by_id(world, events):
    text, _ = export("--workspace", str(world.workspace.pk))
    assert len(text.splitlines()) == len(events)


# CSV.


def test_csv_matches_stored_events(events):
    assert identity(csv_rows()) == stored_identity(events)


def test_csv_nested_fields_are_json(events):
    assert json.loads(csv_rows()[-1]["metadata"]) == events[-1].metadata


def test_csv_keeps_summary_punctuation(events):
    assert csv_rows()[-1]["summary"] == events[-1].summary


def test_csv_starts_with_header(events):
    text, _ = export("--workspace", "acme", "--format", "csv")
    assert text.splitlines()[0].startswith("id,workspace,sequence,occurred_at,")


def record_summary(workspace, summary: str) -> AuditEvent:
    return audit_record(
        workspace=workspace,
        entry=AuditEntry(
            event_name="team.renamed",
            outcome="success",
            summary=summary,
            actor=Actor.system(),
        ),
    )


def test_csv_quotes_formula_team_name(world):
    team_create(
        workspace=world.workspace, name=FORMULA, actor=Actor.system(), source=Source()
    )
    row = csv_rows()[-1]
    assert row["event_name"] == "team.created"
    assert row["target_name"] == "'" + FORMULA


@pytest.mark.parametrize("first", ["=", "+", "-", "@"])
def test_csv_quotes_formula_summary(world, first):
    record_summary(world.workspace, f"{first}1+1 events")
    assert csv_rows()[-1]["summary"] == f"'{first}1+1 events"


@pytest.mark.parametrize("first", ["\t", "\r"])
def test_csv_quotes_stored_control_start(world, first):
    # The writer replaces tabs and carriage returns with spaces, so only a row
    # stored before it did, or changed since, can start with one.
    event = record_summary(world.workspace, "1+1 events")
    AuditEvent.objects.filter(pk=event.pk).update(summary=f"{first}1+1 events")
    assert csv_rows()[-1]["summary"] == f"'{first}1+1 events"


def test_csv_quotes_negative_looking_string(world):
    record_summary(world.workspace, "-5")
    assert csv_rows()[-1]["summary"] == "'-5"


def test_csv_plain_value_unchanged(world):
    event = record_summary(world.workspace, "Renamed Ops to =Ops, +1 member")
    row = csv_rows()[-1]
    assert row["summary"] == "Renamed Ops to =Ops, +1 member"
    assert row["sequence"] == str(event.sequence)


def test_jsonl_keeps_formula_exact(world):
    event = record_summary(world.workspace, FORMULA)
    row = jsonl_rows()[-1]
    assert row["summary"] == FORMULA
    row["occurred_at"] = datetime.fromisoformat(row["occurred_at"])
    row["workspace_id"] = row.pop("workspace")
    assert event_digest(AuditEvent(**row)) == event.hash


# Filters.


def test_since_leaves_out_older(world):
    found = dated(world.workspace)
    rows = jsonl_rows("--since", "2026-02-01")
    assert identity(rows) == stored_identity([found["mar"], found["may"]])


def test_until_leaves_out_later(world):
    found = dated(world.workspace)
    rows = jsonl_rows("--since", "2026-01-01", "--until", "2026-04-01T00:00:00Z")
    assert identity(rows) == stored_identity([found["jan"], found["mar"]])


def test_until_is_exclusive(world):
    found = dated(world.workspace)
    rows = jsonl_rows("--since", "2026-01-01", "--until", MAY.isoformat())
    assert identity(rows) == stored_identity([found["jan"], found["mar"]])


def test_since_is_inclusive(world):
    found = dated(world.workspace)
    rows = jsonl_rows("--since", MAY.isoformat())
    assert identity(rows) == stored_identity([found["may"]])


def test_offset_converted_to_utc(world):
    found = dated(world.workspace)
    # 13:30+01:00 is 12:30 UTC, after the March event's 12:00 UTC.
    rows = jsonl_rows("--since", "2026-03-15T13:30:00+01:00")
    assert identity(rows) == stored_identity([found["may"]])


def test_bad_since_names_option(world):
    with pytest.raises(CommandError, match="--since"):
        export("--workspace", "acme", "--since", "last tuesday")


def test_bad_since_names_format(world):
    with pytest.raises(CommandError, match="ISO 8601"):
        export("--workspace", "acme", "--since", "2026-13-01")


def test_bad_until_names_option(world):
    with pytest.raises(CommandError, match="--until"):
        export("--workspace", "acme", "--until", "soon")


def test_reversed_range_is_error(world):
    with pytest.raises(CommandError, match="must be earlier than --until"):
        export("--workspace", "acme", "--since", "2026-02-01", "--until", "2026-01-01")


def test_unknown_workspace_is_error(world):
    with pytest.raises(CommandError, match="'nowhere' not found"):
        export("--workspace", "nowhere")


# The audit.exported event.


def exported_events(world):
    return AuditEvent.objects.filter(
        workspace=world.workspace, event_name="audit.exported"
    )


def test_export_recorded_once(world, events):
    export("--workspace", "acme")
    assert exported_events(world).count() == 1


def test_export_event_counts_rows(world, events):
    export("--workspace", "acme")
    assert exported_events(world).get().metadata["rows"] == len(events)


def test_export_event_keeps_filters(world, events):
    export("--workspace", "acme", "--since", "2026-01-01", "--format", "csv")
    metadata = exported_events(world).get().metadata
    expected = ("csv", "2026-01-01T00:00:00+00:00", None)
    assert (metadata["format"], metadata["since"], metadata["until"]) == expected


def test_export_event_is_last(world, events):
    export("--workspace", "acme")
    last = AuditEvent.objects.filter(workspace=world.workspace).latest("sequence")
    assert last.event_name == "audit.exported"


def test_export_leaves_out_own_event(world, events):
    names = [row["event_name"] for row in jsonl_rows()]
    assert "audit.exported" not in names


def test_other_workspace_not_exported(world, events):
    record(world.other_workspace, name="team.renamed")
    workspaces = {row["workspace"] for row in jsonl_rows()}
    assert workspaces == {str(world.workspace.pk)}


def test_auditlog_entries_not_exported(world, events):
    LogEntry.objects.log_create(
        world.workspace,
        force_log=True,
        action=LogEntry.Action.UPDATE,
        changes={"name": ["Acme", "Acme Ltd"]},
    )
    assert identity(jsonl_rows()) == stored_identity(events)


# Output.


def test_output_file_written(world, events, tmp_path):
    target = tmp_path / "audit.jsonl"
    export("--workspace", "acme", "--output", str(target))
    lines = target.read_text(encoding="utf-8").splitlines()
    assert identity(map(json.loads, lines)) == stored_identity(events)


def test_output_file_leaves_stdout_empty(world, events, tmp_path):
    text, _ = export("--workspace", "acme", "--output", str(tmp_path / "a.csv"))
    assert text == ""


def test_unwritable_output_is_error(world, events, tmp_path):
    target = tmp_path / "missing" / "audit.jsonl"
    with pytest.raises(CommandError, match="Failed to write"):
        export("--workspace", "acme", "--output", str(target))


def test_progress_on_stderr(events):
    _, err = export("--workspace", "acme")
    assert "Exporting" in err


def test_quiet_run_has_no_progress(events):
    _, err = export("--workspace", "acme", "--verbosity", "0")
    assert err == ""


def test_service_returns_row_count(world, events):
    rows = audit_export(
        workspace=world.workspace, out=io.StringIO(), show_progress=False
    )
    assert rows == len(events)


# PostgreSQL: a server-side cursor and a constant number of queries.


def bulk_events(workspace, count: int) -> None:
    """Append `count` synthetic events after the workspace's last sequence, with
    placeholder hashes."""
    last = AuditEvent.objects.filter(workspace=workspace).latest("sequence").sequence
    start = datetime(2026, 6, 1, tzinfo=UTC)
    AuditEvent.objects.bulk_create(
        (
            AuditEvent(
                workspace=workspace,
                occurred_at=start + timedelta(seconds=index),
                event_name="team.renamed",
                category="members",
                outcome="success",
                action="renamed",
                summary=f"Renamed team {index}.",
                actor_kind="system",
                source_kind="worker",
                sequence=last + index,
                hash=f"{index:064x}",
            )
            for index in range(1, count + 1)
        ),
        batch_size=1000,
    )
    # The next recorded event follows the synthetic ones.
    AuditChainHead.objects.filter(workspace=workspace).update(
        last_sequence=last + count
    )


def export_queries(world) -> list[str]:
    """Export the workspace and return the SQL of every query it ran."""
    with CaptureQueriesContext(connection) as captured:
        audit_export(workspace=world.workspace, out=io.StringIO(), show_progress=False)
    return [query["sql"] for query in captured.captured_queries]


@pytest.mark.postgres
def test_export_uses_server_cursor(postgres, world, events):
    from django.db.backends.postgresql.base import ServerSideCursor

    opened = []
    original = connection.chunked_cursor

    def spy():
        cursor = original()
        opened.append(cursor.cursor)
        return cursor

    with mock.patch.object(connection, "chunked_cursor", spy):
        audit_export(workspace=world.workspace, out=io.StringIO(), show_progress=False)
    assert [type(cursor) for cursor in opened] == [ServerSideCursor]


@pytest.mark.postgres
def test_query_count_is_constant(postgres, world, events):
    bulk_events(world.workspace, 500)
    small = export_queries(world)
    bulk_events(world.workspace, 4500)
    large = export_queries(world)
    assert len(large) == len(small)


@pytest.mark.postgres
def test_rows_read_by_declared_cursor(postgres, world, events):
    bulk_events(world.workspace, 5000)
    # Django records the DECLARE of a named cursor once. The FETCH FORWARD calls
    # that psycopg makes after it are not recorded as queries.
    declared = [
        sql
        for sql in export_queries(world)
        if sql.startswith("DECLARE") and '"audit_auditevent"' in sql
    ]
    assert len(declared) == 1


@pytest.mark.parametrize(
    "moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]
)
def test_edge_time_since_is_error(world, moment):
    with pytest.raises(CommandError, match="outside the range of dates"):
        export("--workspace", "acme", "--since", moment)
