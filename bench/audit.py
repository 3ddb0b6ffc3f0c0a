"""Audit log reads and export on a large PostgreSQL table.

    DJANGO_SETTINGS_MODULE=config.settings.test DATABASE_URL=postgres://... \\
    python bench/audit.py [--rows N] [--rounds N]

Builds the data of tests/audit/test_indexes.py (one INSERT ... SELECT over
generate_series, then ANALYZE): N events in one workspace (a million by
default) and a thousand in each of 100 others. Then it prints:

- the latency of the first and of the hundredth page (50 events) of the big
  workspace's list, newest first, paged two ways: by keyset on (occurred_at,
  id), and through the read API's `audit_events_page` and its cursor on
  (occurred_at, sequence, id). The figures are the median and the slowest of
  --rounds walks through the first hundred pages, after one warm-up walk.
- the peak of Python memory (tracemalloc) while `audit_export` writes the big
  workspace as JSON lines to a sink that keeps only a byte count, and the same
  for a workspace of a thousand events. tracemalloc counts Python objects only,
  not the buffers that libpq allocates for each fetched chunk.

It asserts nothing. The database is a scratch test database, `<name>_bench` on
the server that DATABASE_URL names, made and dropped by Django's test machinery.
Nothing leaves loopback.
"""

import argparse
import logging
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGE = 50
PAGES = 100
MAX_ROWS = 10_000_000


# A pager fetches the page after a position (None for the first page) and
# returns the position after it.
Pager = Callable[[object], object]


@dataclass(frozen=True)
class PageFigures:
    label: str
    page: int
    median_ms: float
    max_ms: float


@dataclass(frozen=True)
class ExportFigures:
    label: str
    rows: int
    bytes_written: int
    peak_kib: float
    seconds: float


class ByteCounter:
    """A text sink that counts what is written to it and keeps nothing."""

    def __init__(self) -> None:
        self.written = 0

    def write(self, text: str) -> int:
        self.written += len(text.encode())
        return len(text)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows",
        type=int,
        default=1_000_000,
        help="events in the big workspace",
    )
    parser.add_argument(
        "--rounds", type=int, default=20, help="timed walks through the pages"
    )
    args = parser.parse_args()
    if not PAGE * PAGES <= args.rows <= MAX_ROWS:
        parser.error(f"--rows must be between {PAGE * PAGES} and {MAX_ROWS}")
    if not 1 <= args.rounds <= 1000:
        parser.error("--rounds must be between 1 and 1000")
    return args


def configure_django() -> None:
    """Set Django up with the test settings, and exit unless on PostgreSQL."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

    import django

    django.setup()
    # Per-event INFO lines would time the terminal, not the product.
    logging.getLogger().setLevel(logging.WARNING)

    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("bench/audit.py needs DATABASE_URL pointing at PostgreSQL")


def create_database() -> Callable[[], None]:
    """Create and migrate `<name>_bench`, and return its teardown."""
    from django.db import connection

    test_settings = connection.settings_dict.setdefault("TEST", {})
    test_settings["NAME"] = f"{connection.settings_dict['NAME']}_bench"
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)

    def destroy() -> None:
        connection.creation.destroy_test_db(old_name, verbosity=0)

    return destroy


def keyset_pager(workspace) -> Pager:
    """Return a pager over `workspace` by keyset on (occurred_at, id)."""
    from django.db.models import Q

    from apps.audit.models import AuditEvent

    def fetch(last):
        events = AuditEvent.objects.filter(workspace=workspace)
        if last is not None:
            # The bound on occurred_at alone is an index condition. Events at
            # the same instant are ordered by id.
            events = events.filter(occurred_at__lte=last.occurred_at).filter(
                Q(occurred_at__lt=last.occurred_at)
                | Q(occurred_at=last.occurred_at, id__lt=last.id)
            )
        page = list(events.order_by("-occurred_at", "-id")[:PAGE])
        return page[-1]

    return fetch


def api_pager(workspace) -> Pager:
    """Return a pager over `workspace` through the read API's selector."""
    from apps.audit.selectors import AuditFilters, audit_events_page

    def fetch(cursor):
        page = audit_events_page(
            workspace=workspace,
            filters=AuditFilters(),
            cursor=cursor or "",
            limit=PAGE,
        )
        return page.next_cursor

    return fetch


def walk_pages(fetch: Pager) -> list[float]:
    """Fetch the first PAGES pages in order and return each page's seconds."""
    seconds = []
    position = None
    for _ in range(PAGES):
        started = time.perf_counter()
        position = fetch(position)
        seconds.append(time.perf_counter() - started)
    return seconds


def measure_pages(label: str, fetch: Pager, rounds: int) -> list[PageFigures]:
    walk_pages(fetch)
    walks = [walk_pages(fetch) for _ in range(rounds)]
    figures = []
    for page in (1, PAGES):
        samples = [walk[page - 1] for walk in walks]
        figures.append(
            PageFigures(
                label=label,
                page=page,
                median_ms=statistics.median(samples) * 1000,
                max_ms=max(samples) * 1000,
            )
        )
    return figures


def measure_export(label: str, workspace) -> ExportFigures:
    """Export `workspace` as JSON lines under tracemalloc and return its peak."""
    from apps.audit.export import audit_export

    sink = ByteCounter()
    tracemalloc.start()
    tracemalloc.reset_peak()
    started = time.perf_counter()
    try:
        rows = audit_export(workspace=workspace, out=sink, show_progress=False)
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return ExportFigures(label, rows, sink.written, peak / 1024, seconds)


def report(
    rows: int, build_seconds: float, pages: list[PageFigures], exports: list
) -> None:
    """Write the figures to standard output."""
    lines = [
        f"{rows} events in the big workspace; data built in {build_seconds:.1f} s",
        f"newest-first list, {PAGE} events a page",
        f"{'pager':<28} {'page':>5} {'median ms':>10} {'max ms':>10}",
    ]
    for item in pages:
        lines.append(
            f"{item.label:<28} {item.page:>5} {item.median_ms:>10.2f} "
            f"{item.max_ms:>10.2f}"
        )
    lines.append("export as JSON lines, under tracemalloc")
    lines.append(
        f"{'workspace':<12} {'rows':>9} {'MiB out':>9} {'peak KiB':>9} {'s':>7}"
    )
    for item in exports:
        lines.append(
            f"{item.label:<12} {item.rows:>9} {item.bytes_written / 2**20:>9.1f} "
            f"{item.peak_kib:>9.0f} {item.seconds:>7.1f}"
        )
    sys.stdout.write("\n".join(lines) + "\n")


def main() -> None:
    args = parse_args()
    configure_django()
    destroy_database = create_database()
    try:
        from tests.audit.test_indexes import audit_data_build

        started = time.perf_counter()
        data = audit_data_build(big_rows=args.rows)
        build_seconds = time.perf_counter() - started
        pages = [
            *measure_pages(
                "keyset (occurred_at, id)", keyset_pager(data.big), args.rounds
            ),
            *measure_pages("API cursor", api_pager(data.big), args.rounds),
        ]
        exports = [
            measure_export("small", data.others[0]),
            measure_export("big", data.big),
        ]
    finally:
        destroy_database()
    report(args.rows, build_seconds, pages, exports)


if __name__ == "__main__":
    main()
