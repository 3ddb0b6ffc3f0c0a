"""Signing in through the loopback OIDC provider: users matched by issuer and
subject, claims mapped to memberships, and every rejection leaving no session."""

import pytest
from django.contrib.auth import SESSION_KEY

from apps.accounts.models import User
from apps.audit.models import AuditEvent
from apps.workspaces.models import Membership

pytestmark = pytest.mark.django_db(transaction=True)


def signed_in(client) -> bool:
    return SESSION_KEY in client.session


def login_failures(reason: str) -> int:
    return AuditEvent.objects.filter(
        event_name="auth.login_failed", metadata__reason=reason
    ).count()


def test_start_sends_pkce_nonce_state(oidc):
    from django.test import Client

    query = oidc.query(oidc.start(Client()))

    assert query["code_challenge_method"] == "S256"
    assert query["nonce"]
    assert query["state"]
    assert query["redirect_uri"] == "http://testserver/oidc/callback/"


def test_sign_in_creates_user(oidc):
    client, response = oidc.sign_in("alice")

    user = User.objects.get(oidc_subject__gt="")
    assert response.status_code == 302
    assert signed_in(client)
    assert user.oidc_issuer == oidc.provider.issuer
    assert user.email == oidc.provider.users["alice"].email
    assert user.email_verified is True
    assert AuditEvent.objects.filter(event_name="auth.login").count() == 1


def test_second_sign_in_same_user(oidc):
    oidc.sign_in("alice")

    oidc.sign_in("alice")

    assert User.objects.filter(oidc_subject__gt="").count() == 1


def test_session_holds_no_provider_token(oidc):
    client, _ = oidc.sign_in("alice")

    keys = set(client.session.keys())

    assert "oidc_access_token" not in keys
    assert "oidc_id_token" not in keys


def test_replayed_callback_rejected(oidc):
    from django.test import Client

    client = Client()
    redirect = oidc.provider.authorize(oidc.start(client), username="alice")
    oidc.finish(client, redirect)
    client.post("/oidc/logout/")

    oidc.finish(client, redirect)

    assert not signed_in(client)


def test_unverified_email_of_existing_user(oidc, world):
    alice = oidc.provider.users["alice"]
    User.objects.create_user("local-alice", email=alice.email)
    oidc.provider.set_user("alice", email_verified=False)

    client, _ = oidc.sign_in("alice")

    assert not signed_in(client)
    assert login_failures("email_unverified") == 1


def test_same_email_other_subject_kept_apart(oidc):
    oidc.sign_in("alice")
    oidc.provider.set_user("bob", email=oidc.provider.users["alice"].email)

    client, _ = oidc.sign_in("bob")

    assert not signed_in(client)
    assert login_failures("email_in_use") == 1
    assert User.objects.filter(oidc_subject__gt="").count() == 1


def test_unverified_email_not_stored(oidc):
    oidc.provider.set_user("alice", email_verified=False)

    client, _ = oidc.sign_in("alice")

    user = User.objects.get(oidc_subject__gt="")
    assert signed_in(client)
    assert user.email == ""
    assert user.email_verified is False


# Memberships from the groups claim.


def membership(user_filter: dict) -> Membership | None:
    return Membership.objects.filter(
        user__in=User.objects.filter(**user_filter), workspace__slug="acme"
    ).first()


def test_claim_grants_role(oidc):
    oidc.provider.set_user("alice", groups=["acme-admins"])

    oidc.sign_in("alice")

    found = membership({"oidc_subject__gt": ""})
    assert found.role == "admin"
    assert found.source == "identity_claim"


def test_role_change_at_next_login(oidc):
    oidc.provider.set_user("alice", groups=["acme-admins"])
    oidc.sign_in("alice")
    oidc.provider.set_user("alice", groups=["acme-members"])

    oidc.sign_in("alice")

    assert membership({"oidc_subject__gt": ""}).role == "member"
    assert AuditEvent.objects.filter(event_name="member.role_changed").exists()


def test_removed_claim_removes_membership(oidc):
    oidc.provider.set_user("alice", groups=["acme-members"])
    oidc.sign_in("alice")
    oidc.provider.set_user("alice", groups=[])

    oidc.sign_in("alice")

    assert membership({"oidc_subject__gt": ""}) is None
    assert AuditEvent.objects.filter(event_name="member.removed").exists()


def test_admin_role_opens_admin(oidc):
    oidc.provider.set_user("alice", groups=["acme-admins"])
    client, response = oidc.sign_in("alice")

    page = client.get("/admin/")

    assert response["Location"] == "/admin/"
    assert page.status_code == 200


# Logout and session lifetime.


def test_logout_is_post_only(oidc):
    client, _ = oidc.sign_in("alice")

    refused = client.get("/oidc/logout/")
    client.post("/oidc/logout/")

    assert refused.status_code == 405
    assert not signed_in(client)
    assert AuditEvent.objects.filter(event_name="auth.logout").count() == 1


def expire_session(client) -> None:
    session = client.session
    session["oidc_id_token_expiration"] = 0
    session.save()


def test_expired_session_api_401(oidc):
    client, _ = oidc.sign_in("alice")
    expire_session(client)

    response = client.post(
        "/api/workspaces", {"name": "Late"}, content_type="application/json"
    )

    assert response.status_code == 401
    assert response.json()["error"] == "session_expired"


def test_expired_session_admin_login(oidc):
    oidc.provider.set_user("alice", groups=["acme-admins"])
    client, _ = oidc.sign_in("alice")
    expire_session(client)

    response = client.post("/admin/applications/app/", {})

    assert response.status_code == 302
    assert response["Location"].startswith("/oidc/authenticate/")
    assert not signed_in(client)


def test_admin_login_goes_to_provider(oidc):
    from django.test import Client

    response = Client().get("/admin/login/?next=/admin/")

    assert response["Location"].startswith("/oidc/authenticate/")
