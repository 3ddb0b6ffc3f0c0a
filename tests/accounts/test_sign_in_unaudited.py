"""A sign-in whose audit event cannot be written is rejected, but a sign-out ends.

The audit writer of sign-in events is replaced by one that raises, as a
database that rejects the insert would.
"""

import logging

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.db import DatabaseError

from apps.accounts import services, sign_in_audit
from apps.audit.models import AuditEvent
from tests.accounts.conftest import WRONG_PASSWORD
from tests.audit.catalogue_support import CANARY

pytestmark = pytest.mark.django_db

# Text of the injected database error, which no page may show.
ERROR_TEXT = "audit insert rejected by the test"


def reject_audit_writes(monkeypatch) -> None:
    def rejecting_audit_record(**kwargs):
        raise DatabaseError(ERROR_TEXT)

    monkeypatch.setattr(services, "audit_record", rejecting_audit_record)


@pytest.fixture
def audit_down(monkeypatch):
    reject_audit_writes(monkeypatch)


def signed_in_sessions() -> int:
    """Return how many stored sessions carry a signed-in user."""
    stored = (session.get_decoded() for session in Session.objects.all())
    return sum(1 for data in stored if SESSION_KEY in data)


def errors_of(caplog) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == sign_in_audit.__name__ and record.levelno == logging.ERROR
    ]


def test_unaudited_admin_login_rejected(browser, owner, audit_down, all_logs):
    response = browser.post(
        "/admin/login/", {"username": owner.username, "password": CANARY}
    )

    assert response.status_code == 403
    assert ERROR_TEXT not in response.content.decode()
    assert SESSION_KEY not in browser.session
    assert signed_in_sessions() == 0
    assert not AuditEvent.objects.filter(event_name="auth.login").exists()
    assert len(errors_of(all_logs)) == 1


def test_unaudited_site_login_rejected(browser, owner, audit_down, all_logs):
    response = browser.post(
        "/accounts/login/", {"username": owner.username, "password": CANARY}
    )

    assert response.status_code == 403
    assert SESSION_KEY not in browser.session
    assert signed_in_sessions() == 0
    assert len(errors_of(all_logs)) == 1


def test_unaudited_failure_rejected(browser, owner, audit_down, all_logs):
    response = browser.post(
        "/admin/login/", {"username": owner.username, "password": WRONG_PASSWORD}
    )

    assert response.status_code == 403
    assert ERROR_TEXT not in response.content.decode()
    assert SESSION_KEY not in browser.session
    assert len(errors_of(all_logs)) == 1


def test_unaudited_logout_ends_session(browser, owner, monkeypatch, all_logs):
    browser.post("/admin/login/", {"username": owner.username, "password": CANARY})
    assert browser.session[SESSION_KEY] == str(owner.pk)

    reject_audit_writes(monkeypatch)
    response = browser.post("/admin/logout/")

    assert response.status_code == 200
    assert SESSION_KEY not in browser.session
    assert signed_in_sessions() == 0
    assert not AuditEvent.objects.filter(event_name="auth.logout").exists()
    assert len(errors_of(all_logs)) == 1
