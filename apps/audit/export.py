"""Stream a workspace's audit events, oldest first, as JSON lines or CSV.

JSON lines keep every value exactly as stored, so each hash can be recomputed.
CSV prefixes a `'` to cells that a spreadsheet would run as a formula.

Rows are read through `QuerySet.iterator`, so memory stays constant however long
the chain is: on PostgreSQL Django reads them from a named server-side cursor,
and on SQLite it fetches them in chunks from one cursor. Only the product's own
`AuditEvent` rows are exported; django-auditlog's model diffs are not.
"""

import csv
import json
import logging
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import TextIO

from django.db import transaction
from django.db.models import Max, QuerySet
from tqdm import tqdm

from apps.audit.models import AuditEvent
from apps.audit.services import (
    DIGEST_FIELDS,
    Actor,
    AuditEntry,
    Source,
    Target,
    audit_record,
)

logger = logging.getLogger(__name__)

FORMATS = ("jsonl", "csv")
CHUNK_SIZE = 2000
EVENT_NAME = "audit.exported"

# Every stored column: the id, the hash and what the hash covers. The names are
# the model's, so a row can be checked against `event_digest`.
COLUMNS = (
    "id",
    "workspace",
    "sequence",
    "occurred_at",
    *(field for field in DIGEST_FIELDS if field != "sequence"),
    "hash",
)
NESTED_COLUMNS = frozenset({"changes", "related_ids", "metadata"})
# The first characters that make a spreadsheet read a CSV cell as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# (column, model field) pairs: the workspace is read as its id.
_COLUMN_FIELDS = tuple(
    (column, "workspace_id" if column == "workspace" else column) for column in COLUMNS
)
_FIELDS = tuple(field for _, field in _COLUMN_FIELDS)


def audit_export_queryset(
    *, workspace, since: datetime | None = None, until: datetime | None = None
) -> QuerySet:
    """Return the workspace's events in chain order, `since` included and `until`
    excluded."""
    events = AuditEvent.objects.filter(workspace=workspace)
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    if until is not None:
        events = events.filter(occurred_at__lt=until)
    # The sequence is the chain's order, so a reader can recompute each hash
    # from the line before it.
    return events.order_by("sequence")


def audit_export(
    *,
    workspace,
    since: datetime | None = None,
    until: datetime | None = None,
    fmt: str = "jsonl",
    out: TextIO,
    actor: Actor | None = None,
    source: Source | None = None,
    progress_file: TextIO | None = None,
    show_progress: bool = True,
) -> int:
    """Write the workspace's events to `out`, oldest first, and return the count.

    The export covers the chain as it stood when it began: events appended while
    it runs, its own `audit.exported` event among them, are left out. That event
    is recorded once the last row is written.
    """
    if fmt not in FORMATS:
        raise ValueError(f"invalid export format {fmt!r}: expected one of {FORMATS}")
    events = audit_export_queryset(workspace=workspace, since=since, until=until)
    # In autocommit mode Django declares the server-side cursor WITH HOLD, and
    # PostgreSQL then copies the whole result before the first row is fetched.
    # Inside a transaction the cursor has no HOLD, so the rows stream.
    with transaction.atomic():
        events = _frozen_chain(events, workspace)
        progress = tqdm(
            total=events.count(),
            desc="Exporting",
            unit="event",
            file=progress_file or sys.stderr,
            disable=not show_progress,
        )
        with progress:
            rows = _write_rows(_exported_rows(events, progress), fmt, out)
    _record_export(workspace, since, until, fmt, rows, actor, source)
    logger.info(
        "audit export finished: workspace=%s format=%s rows=%s",
        workspace.pk,
        fmt,
        rows,
    )
    return rows


def _frozen_chain(events: QuerySet, workspace) -> QuerySet:
    """Limit `events` to the sequences committed before the export began.

    Sequences are handed out under the chain head's lock, so once sequence N is
    visible every sequence below it is too.
    """
    last = AuditEvent.objects.filter(workspace=workspace).aggregate(
        last=Max("sequence")
    )["last"]
    return events.filter(sequence__lte=last or 0)


def _exported_rows(events: QuerySet, progress: tqdm) -> Iterator[dict]:
    """Yield each event as a dict of COLUMNS, advancing `progress` per chunk."""
    pending = 0
    for values in events.values(*_FIELDS).iterator(chunk_size=CHUNK_SIZE):
        yield _row(values)
        pending += 1
        if pending == CHUNK_SIZE:
            progress.update(pending)
            pending = 0
    progress.update(pending)


def _row(values: dict) -> dict:
    row = {column: values[field] for column, field in _COLUMN_FIELDS}
    row["id"] = str(row["id"])
    row["workspace"] = str(row["workspace"] or "")
    row["occurred_at"] = row["occurred_at"].isoformat()
    return row


def _write_rows(rows: Iterator[dict], fmt: str, out: TextIO) -> int:
    if fmt == "csv":
        return _write_csv(rows, out)
    return _write_jsonl(rows, out)


def _write_jsonl(rows: Iterator[dict], out: TextIO) -> int:
    written = 0
    for row in rows:
        out.write(_compact_json(row) + "\n")
        written += 1
    return written


def _write_csv(rows: Iterator[dict], out: TextIO) -> int:
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    written = 0
    for row in rows:
        cells = (
            _compact_json(row[column]) if column in NESTED_COLUMNS else row[column]
            for column in COLUMNS
        )
        writer.writerow(_text_cell(cell) for cell in cells)
        written += 1
    return written


def _text_cell(value):
    """Return `value` with a leading `'` if it is a string a spreadsheet would
    read as a formula.

    Summaries and names come from users, and a spreadsheet evaluates a cell such
    as `=HYPERLINK(...)` as a formula when it opens the file. The quote makes it
    plain text but changes the value, so JSON lines, not CSV, is the format to
    recompute hashes from.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _compact_json(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _record_export(workspace, since, until, fmt, rows, actor, source) -> None:
    audit_record(
        workspace=workspace,
        entry=AuditEntry(
            event_name=EVENT_NAME,
            outcome="success",
            summary=f"Exported {rows} audit event(s) as {fmt}.",
            actor=actor or Actor.system("audit export"),
            source=source or Source.for_command(),
            target=Target(type="workspace", id=str(workspace.pk), name=workspace.name),
            metadata={
                "format": fmt,
                "since": since.isoformat() if since else None,
                "until": until.isoformat() if until else None,
                "rows": rows,
            },
        ),
    )
