"""Fails any test whose code writes a governed model in bulk.

`QuerySet.update`, `bulk_create` and `bulk_update` send no model signals, so
django-auditlog records no diff for them. Every test of the suite runs with
these three wrapped: a bulk write to a governed model is listed and fails the
test at teardown, unless it changes only fields whose diffs are excluded.
Only the product's own writes count: a test that arranges rows in bulk is not
what the check is about.
"""

import sys
from pathlib import Path

import django
import pytest
from django.db.models.query import QuerySet

from apps.audit.diffs import excluded_fields, governed_models

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = (str(ROOT / "apps"), str(ROOT / "config"))
SKIPPED = (str(Path(django.__file__).resolve().parent), str(Path(__file__).resolve()))


def _from_product() -> bool:
    """Return whether the code that asked Django for the bulk write is the product's."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(SKIPPED):
        frame = frame.f_back
    return frame is not None and frame.f_code.co_filename.startswith(PRODUCT)


@pytest.fixture(autouse=True)
def governed_bulk_writes(monkeypatch):
    """The bulk writes to governed models made during the test, as text."""
    writes: list[str] = []
    excluded = {
        model: set(excluded_fields(model, registration))
        for model, registration in governed_models().items()
    }
    update, bulk_create, bulk_update = (
        QuerySet.update,
        QuerySet.bulk_create,
        QuerySet.bulk_update,
    )

    def note(model, operation: str, fields=None) -> None:
        """List the write unless it skips no diff: `fields` None means every field."""
        if model not in excluded or not _from_product():
            return
        if fields is None:
            writes.append(f"{model.__name__} {operation}")
        elif set(fields) - excluded[model]:
            writes.append(f"{model.__name__} {operation} {sorted(fields)}")

    def recorded_update(self, **kwargs):
        note(self.model, "update", kwargs)
        return update(self, **kwargs)

    def recorded_bulk_create(self, objs, *args, **kwargs):
        note(self.model, "bulk_create")
        return bulk_create(self, objs, *args, **kwargs)

    def recorded_bulk_update(self, objs, fields, *args, **kwargs):
        note(self.model, "bulk_update", fields)
        return bulk_update(self, objs, fields, *args, **kwargs)

    monkeypatch.setattr(QuerySet, "update", recorded_update)
    monkeypatch.setattr(QuerySet, "bulk_create", recorded_bulk_create)
    monkeypatch.setattr(QuerySet, "bulk_update", recorded_bulk_update)
    yield writes

    assert not writes, (
        "governed models were written in bulk, so django-auditlog recorded no "
        f"diff for these writes: {writes}. Save each row instead."
    )
