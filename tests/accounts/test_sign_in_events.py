"""Password sign-in, failed sign-in and sign-out write events to the global chain.

Each test drives a real view with Django's test client and checks the stored
event with `assert_event`. The canary password, a wrong password and a password
typed as the username must appear in no audit column, no log line and no table.
"""

import pytest
from django.contrib.auth import SESSION_KEY

from apps.audit.models import AuditEvent
from apps.audit.services import short_hash
from tests.accounts.conftest import (
    CANARIES,
    USER_AGENT,
    USERNAME_CANARY,
    WRONG_PASSWORD,
)
from tests.audit.catalogue_support import CANARY, assert_event
from tests.invitations.conftest import invite, token_of
from tests.support.canary import all_table_text, assert_no_canary

pytestmark = pytest.mark.django_db


def check_event(event_name: str, response, **expected) -> AuditEvent:
    """Return the newest `event_name` event after checking what every sign-in
    event shares: the global chain, the web source and the request's hashes."""
    event = assert_event(
        event_name, workspace=None, source_kind="web", canaries=CANARIES, **expected
    )
    assert event.workspace_id is None
    assert event.source_trust == "password"
    assert event.request_id == response["X-Request-Id"]
    assert event.ip_hash == short_hash("127.0.0.1")
    assert event.user_agent_hash == short_hash(USER_AGENT)
    assert len(event.ip_hash) == 16
    assert len(event.user_agent_hash) == 16
    return event


def assert_anonymous(event: AuditEvent) -> None:
    assert event.actor_kind == "system"
    assert event.actor_display == "anonymous"
    assert event.actor_id == ""


def assert_no_canaries(logs) -> None:
    tables = all_table_text()
    for canary in CANARIES:
        assert_no_canary(logs.text, "a log line", canary)
        assert_no_canary(tables, "a database table", canary)


def count(event_name: str) -> int:
    return AuditEvent.objects.filter(event_name=event_name).count()


def sign_in(browser, path: str, username: str, password: str = CANARY):
    return browser.post(path, {"username": username, "password": password})


# Admin login.


def test_admin_login_recorded(browser, owner, all_logs):
    response = sign_in(browser, "/admin/login/", owner.username)

    assert response.status_code == 302
    assert browser.session[SESSION_KEY] == str(owner.pk)
    event = check_event(
        "auth.login",
        response,
        outcome="success",
        actor=owner,
        target_type="user",
        target_id=owner.pk,
    )
    assert event.metadata == {"method": "password"}
    assert count("auth.login") == 1
    assert_no_canaries(all_logs)


def test_admin_wrong_password_recorded(browser, owner, all_logs):
    response = sign_in(browser, "/admin/login/", owner.username, WRONG_PASSWORD)

    assert response.status_code == 200
    assert SESSION_KEY not in browser.session
    event = check_event(
        "auth.login_failed",
        response,
        outcome="failure",
        target_type="user",
        target_id=owner.pk,
    )
    assert_anonymous(event)
    assert event.metadata == {"method": "password", "reason": "invalid_credentials"}
    assert count("auth.login") == 0
    assert_no_canaries(all_logs)


def test_admin_unknown_username_recorded(browser, owner, all_logs):
    response = sign_in(browser, "/admin/login/", USERNAME_CANARY)

    assert response.status_code == 200
    event = check_event(
        "auth.login_failed",
        response,
        outcome="failure",
        target_type="user",
        target_id="",
    )
    assert_anonymous(event)
    assert event.metadata == {"method": "password", "reason": "invalid_credentials"}
    assert_no_canaries(all_logs)


def test_admin_no_access_recorded(browser, bystander, all_logs):
    response = sign_in(browser, "/admin/login/", bystander.username)

    assert response.status_code == 200
    assert SESSION_KEY not in browser.session
    event = check_event(
        "auth.login_failed",
        response,
        outcome="failure",
        actor=bystander,
        target_type="user",
        target_id=bystander.pk,
    )
    assert event.metadata == {"method": "password", "reason": "no_admin_access"}
    assert count("auth.login") == 0
    assert_no_canaries(all_logs)


def test_admin_logout_recorded(browser, owner, all_logs):
    sign_in(browser, "/admin/login/", owner.username)

    get_response = browser.get("/admin/logout/")
    response = browser.post("/admin/logout/")

    assert get_response.status_code == 405
    assert response.status_code == 200
    assert SESSION_KEY not in browser.session
    event = check_event(
        "auth.logout",
        response,
        outcome="success",
        actor=owner,
        target_type="user",
        target_id=owner.pk,
    )
    assert event.metadata == {}
    assert count("auth.logout") == 1
    assert_no_canaries(all_logs)


# The site's login and logout pages.


def test_site_login_recorded(browser, bystander, all_logs):
    response = sign_in(browser, "/accounts/login/", bystander.username)

    assert response.status_code == 302
    check_event(
        "auth.login",
        response,
        outcome="success",
        actor=bystander,
        target_type="user",
        target_id=bystander.pk,
    )
    assert count("auth.login") == 1
    assert_no_canaries(all_logs)


def test_site_wrong_password_recorded(browser, bystander, all_logs):
    response = sign_in(browser, "/accounts/login/", bystander.username, WRONG_PASSWORD)

    assert response.status_code == 200
    event = check_event(
        "auth.login_failed",
        response,
        outcome="failure",
        target_type="user",
        target_id=bystander.pk,
    )
    assert_anonymous(event)
    assert event.metadata["reason"] == "invalid_credentials"
    assert_no_canaries(all_logs)


def test_site_logout_recorded(browser, bystander, all_logs):
    sign_in(browser, "/accounts/login/", bystander.username)

    response = browser.post("/accounts/logout/")

    assert SESSION_KEY not in browser.session
    check_event(
        "auth.logout",
        response,
        outcome="success",
        actor=bystander,
        target_type="user",
        target_id=bystander.pk,
    )
    assert count("auth.logout") == 1
    assert_no_canaries(all_logs)


def test_anonymous_logout_not_recorded(browser, bystander):
    sign_in(browser, "/accounts/login/", bystander.username)
    browser.post("/accounts/logout/")

    browser.post("/accounts/logout/")

    assert count("auth.logout") == 1


# Sign-up through an invitation page, which signs the new account in.


def test_invitation_signup_recorded(browser, world, all_logs):
    created = invite(world.admin, world, "newcomer@example.test")
    path = f"/invitations/{token_of(created)}"

    response = browser.post(
        path, {"username": "newcomer", "password1": CANARY, "password2": CANARY}
    )

    assert response.status_code == 302
    newcomer = world.workspace.memberships.get(user__username="newcomer").user
    check_event(
        "auth.login",
        response,
        outcome="success",
        actor=newcomer,
        target_type="user",
        target_id=newcomer.pk,
    )
    assert count("auth.login") == 1
    assert_no_canaries(all_logs)
