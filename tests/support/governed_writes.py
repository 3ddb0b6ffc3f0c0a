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

from apps.audit.diffs import governed_models

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = (str(ROOT / "apps"), str(ROOT / "config"))
DJANGO = str(Path(django.__file__).resolve().parent)


def _tracked(registration, names) -> list[str]:
    return sorted(set(names) - set(registration.exclude))


def _from_product() -> bool:
    """Whether the code that asked Django for the bulk write is the product's."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(DJANGO):
        frame = frame.f_back
    return frame is not None and frame.f_code.co_filename.startswith(PRODUCT)


@pytest.fixture(autouse=True)
def governed_bulk_writes(monkeypatch):
    """The bulk writes to governed models made during the test, as text."""
    writes: list[str] = []
    governed = governed_models()
    update, bulk_create, bulk_update = (
        QuerySet.update,
        QuerySet.bulk_create,
        QuerySet.bulk_update,
    )

    def recorded_update(self, **kwargs):
        registration = governed.get(self.model)
        if (
            registration is not None
            and _tracked(registration, kwargs)
            and _from_product()
        ):
            writes.append(f"{self.model.__name__} update {sorted(kwargs)}")
        return update(self, **kwargs)

    def recorded_bulk_create(self, objs, *args, **kwargs):
        if self.model in governed and _from_product():
            writes.append(f"{self.model.__name__} bulk_create")
        return bulk_create(self, objs, *args, **kwargs)

    def recorded_bulk_update(self, objs, fields, *args, **kwargs):
        registration = governed.get(self.model)
        if (
            registration is not None
            and _tracked(registration, fields)
            and _from_product()
        ):
            writes.append(f"{self.model.__name__} bulk_update {sorted(fields)}")
        return bulk_update(self, objs, fields, *args, **kwargs)

    monkeypatch.setattr(QuerySet, "update", recorded_update)
    monkeypatch.setattr(QuerySet, "bulk_create", recorded_bulk_create)
    monkeypatch.setattr(QuerySet, "bulk_update", recorded_bulk_update)
    yield writes

    assert not writes, (
        "governed models were written in bulk, so django-auditlog recorded no "
        f"diff for these writes: {writes}. Save each row instead."
    )
