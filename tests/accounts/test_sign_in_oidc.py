"""An OpenID Connect sign-in, failure and logout each write exactly one event.

The OIDC backend and logout view write their own events, so the password
sign-in receivers must skip them. Sign-ins go through the loopback provider.
"""

import pytest

from apps.accounts.models import User
from apps.audit.models import AuditEvent
from tests.oidc import conftest as oidc_setup

pytestmark = pytest.mark.django_db(transaction=True)

# The sign-in fixture of the OIDC tests: the product set up for the provider.
oidc = oidc_setup.oidc


def events(event_name: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_name=event_name, workspace=None))


def test_oidc_sign_in_recorded_once(oidc):
    oidc.sign_in("alice")

    logins = events("auth.login")
    assert len(logins) == 1
    assert logins[0].source_trust == "identity_provider"
    assert logins[0].metadata == {"method": "oidc"}


def test_oidc_logout_recorded_once(oidc):
    client, _ = oidc.sign_in("alice")

    client.post("/oidc/logout/")

    logouts = events("auth.logout")
    assert len(logouts) == 1
    assert logouts[0].source_trust == "identity_provider"


def test_oidc_failure_recorded_once(oidc):
    alice = oidc.provider.users["alice"]
    User.objects.create_user("local-alice", email=alice.email)
    oidc.provider.set_user("alice", email_verified=False)

    oidc.sign_in("alice")

    failures = events("auth.login_failed")
    assert len(failures) == 1
    assert failures[0].metadata == {"reason": "email_unverified"}
    assert failures[0].source_trust == "identity_provider"
