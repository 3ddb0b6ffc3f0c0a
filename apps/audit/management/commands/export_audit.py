"""`manage.py export_audit --workspace W [--since T] [--until T] [--format F]
[--output FILE]`.

Writes the workspace's audit events, oldest first, as JSON lines or CSV to
stdout or FILE, with a progress bar on stderr, then records one audit.exported
event in the workspace's chain. `--since` is included and `--until` excluded.
A date means midnight UTC, and a datetime without an offset is read as UTC.
"""

import argparse
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.audit.export import FORMATS, audit_export
from apps.audit.services import Actor, Source
from apps.workspaces.selectors import workspace_find_by_identifier

logger = logging.getLogger(__name__)

COMMAND = "manage.py export_audit"
EXPECTED_FORMAT = (
    "an ISO 8601 date (2026-12-04) or datetime (2026-12-04T09:30:00 or "
    "2026-12-04T09:30:00+01:00)"
)


def iso_moment(text: str) -> datetime:
    """Parse an ISO 8601 date or datetime into an aware datetime in UTC."""
    try:
        # A date alone parses as midnight.
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}: expected {EXPECTED_FORMAT}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        # The first and last days of the calendar overflow in UTC for some
        # offsets, for example 0001-01-01T00:00:00+14:00.
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}: the time is outside the range of dates in "
            "UTC; pass a time between years 1 and 9999 in UTC"
        ) from None


class _PlainStream:
    """A file-like view of a command's OutputWrapper that adds no line endings,
    so tqdm can redraw its bar in place and rows pass through unchanged."""

    def __init__(self, wrapper) -> None:
        self._wrapper = wrapper

    def write(self, text: str) -> None:
        self._wrapper.write(text, ending="")

    def flush(self) -> None:
        self._wrapper.flush()


class Command(BaseCommand):
    help = (
        "Export a workspace's audit events, oldest first, as JSON lines or CSV, "
        "and record an audit.exported event."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--workspace",
            required=True,
            metavar="W",
            help="The workspace's id or slug.",
        )
        parser.add_argument(
            "--since",
            type=iso_moment,
            default=None,
            metavar="T",
            help="Export events at or after T: an ISO 8601 date or datetime, "
            "read as UTC without an offset.",
        )
        parser.add_argument(
            "--until",
            type=iso_moment,
            default=None,
            metavar="T",
            help="Export events before T: an ISO 8601 date or datetime, read as "
            "UTC without an offset.",
        )
        parser.add_argument(
            "--format",
            choices=FORMATS,
            default="jsonl",
            help="jsonl: one JSON object per line, exactly as stored. csv: a header "
            "row, then one row per event with nested fields as JSON and a leading ' "
            "on cells that a spreadsheet would read as a formula. Default: jsonl.",
        )
        parser.add_argument(
            "--output",
            type=Path,
            default=None,
            metavar="FILE",
            help="Write to FILE instead of stdout. FILE appears only once the "
            "export is complete.",
        )

    def handle(self, *args: object, **options: object) -> None:
        workspace = workspace_find_by_identifier(identifier=options["workspace"])
        if workspace is None:
            raise CommandError(
                f"Workspace {options['workspace']!r} not found: pass a workspace's "
                "id or slug."
            )
        since, until = options["since"], options["until"]
        if since is not None and until is not None and since >= until:
            raise CommandError(
                f"Invalid range: --since {since.isoformat()} must be earlier than "
                f"--until {until.isoformat()}."
            )
        output = options["output"]
        if output is None:
            self._export(workspace, _PlainStream(self.stdout), options)
            return
        rows = self._export_to_file(workspace, output, options)
        if options["verbosity"] > 0:
            self.stderr.write(f"Wrote {rows} event(s) to {output}.")

    def _export_to_file(self, workspace, output: Path, options: dict) -> int:
        """Export into a sibling file and rename it over FILE once complete, so an
        interrupted export never leaves a file that looks whole."""
        partial = output.with_name(f".{output.name}.partial")
        try:
            with partial.open("w", encoding="utf-8", newline="") as out:
                rows = self._export(workspace, out, options)
            os.replace(partial, output)
        except OSError as error:
            reason = error.strerror or error
            raise CommandError(f"Failed to write {output}: {reason}.") from None
        finally:
            partial.unlink(missing_ok=True)
        return rows

    def _export(self, workspace, out, options: dict) -> int:
        rows = audit_export(
            workspace=workspace,
            since=options["since"],
            until=options["until"],
            fmt=options["format"],
            out=out,
            actor=Actor.system(COMMAND),
            source=Source.for_command(),
            progress_file=_PlainStream(self.stderr),
            show_progress=options["verbosity"] > 0,
        )
        logger.info(
            "export_audit finished: workspace=%s rows=%s output=%s",
            workspace.pk,
            rows,
            options["output"] or "stdout",
        )
        return rows
