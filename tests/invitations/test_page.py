"""The browser page of the accept link, and `manage.py invitation_link`."""

import io
import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from apps.accounts.models import User
from apps.audit.models import AuditEvent
from apps.workspaces.models import Invitation, Membership
from tests.invitations.conftest import invite, token_of

PASSWORD = "correct-horse-battery-42"


def link_from_command(invitation_id: str) -> str:
    output = io.StringIO()
    call_command("invitation_link", invitation_id, stdout=output)
    return output.getvalue().strip().splitlines()[-1]


def page_path(link: str) -> str:
    return re.sub(r"^http://testserver", "", link)


def signup(client, path: str, username: str = "newcomer", password=PASSWORD):
    return client.post(
        path,
        {"username": username, "password1": password, "password2": password},
    )


def test_local_link_end_to_end(world, platform_team):
    created = invite(
        world.admin,
        world,
        "Newcomer@Example.test",
        team_ids=[str(platform_team.pk)],
    ).json()
    path = page_path(link_from_command(created["id"]))
    browser = Client()

    page = browser.get(path)
    assert page.status_code == 200
    assert b"Acme" in page.content
    assert b"newcomer@example.test" in page.content
    assert b'name="password2"' in page.content

    done = signup(browser, path)
    assert done.status_code == 302
    assert done["Location"] == f"/invitations/joined/{world.workspace.pk}"

    user = User.objects.get(username="newcomer")
    assert user.email == "newcomer@example.test"
    assert user.check_password(PASSWORD)
    membership = Membership.objects.get(workspace=world.workspace, user=user)
    assert membership.role == "member"
    teams = set(membership.teams.values_list("name", flat=True))
    assert teams == {"General", "Platform"}

    joined = browser.get(done["Location"])
    assert joined.status_code == 200
    assert b"You joined Acme" in joined.content

    workspaces = browser.get("/api/workspaces")
    assert workspaces.status_code == 200
    assert [item["id"] for item in workspaces.json()] == [str(world.workspace.pk)]


def test_command_issues_new_link(world):
    created = invite(world.owner, world, "newcomer@example.test")
    first = token_of(created)

    output = io.StringIO()
    call_command("invitation_link", created.json()["id"], stdout=output)

    text = output.getvalue()
    assert "new token" in text
    assert "no longer work" in text
    assert first not in text
    assert Client().get(page_path(created.json()["acceptUrl"])).status_code == 404
    resent = AuditEvent.objects.get(event_name="invitation.resent")
    assert resent.actor_kind == "system"


def test_command_unknown_id(world):
    for identifier in ("not-a-uuid", "6f1c1e55-0000-4000-8000-000000000000"):
        with pytest.raises(CommandError, match="No invitation has the id"):
            call_command("invitation_link", identifier)


def test_command_not_pending(world):
    created = invite(world.owner, world, "newcomer@example.test").json()
    world.owner.post(f"{world.base}/invitations/{created['id']}/revoke")

    with pytest.raises(CommandError, match="is revoked"):
        call_command("invitation_link", created["id"])


def test_signup_owner_redirects_to_admin(world):
    created = invite(world.owner, world, "boss@example.test", role="owner")
    browser = Client()

    done = signup(browser, page_path(created.json()["acceptUrl"]), username="boss")

    assert done.status_code == 302
    assert done["Location"] == "/admin/"
    user = User.objects.get(username="boss")
    assert user.is_staff
    assert browser.get("/admin/").status_code == 200


def test_signup_password_validated(world):
    created = invite(world.owner, world, "newcomer@example.test")
    path = page_path(created.json()["acceptUrl"])
    browser = Client()

    weak = signup(browser, path, password="password")
    mismatch = browser.post(
        path,
        {"username": "newcomer", "password1": PASSWORD, "password2": PASSWORD + "x"},
    )

    assert weak.status_code == 200
    assert b"errorlist" in weak.content
    assert mismatch.status_code == 200
    assert b"didn" in mismatch.content
    assert not User.objects.filter(username="newcomer").exists()
    assert Invitation.objects.get().status == "pending"


def test_signup_username_taken(world):
    created = invite(world.owner, world, "newcomer@example.test")
    browser = Client()

    response = signup(browser, page_path(created.json()["acceptUrl"]), "Member")

    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert not User.objects.filter(email="newcomer@example.test").exists()


def test_existing_account_redirects_to_login(world, invitee):
    created = invite(world.owner, world, "INVITEE@example.test")
    path = page_path(created.json()["acceptUrl"])

    response = Client().get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


def test_existing_account_cannot_sign_up(world, invitee):
    created = invite(world.owner, world, "invitee@example.test")
    path = page_path(created.json()["acceptUrl"])

    response = signup(Client(), path, username="intruder")

    assert response.status_code == 302
    assert not User.objects.filter(username="intruder").exists()


def test_signed_in_accepts(world, invitee, platform_team):
    created = invite(
        world.owner, world, "invitee@example.test", team_ids=[str(platform_team.pk)]
    )
    path = page_path(created.json()["acceptUrl"])
    browser = Client()
    browser.force_login(invitee.user)

    page = browser.get(path)
    accepted = browser.post(path)

    assert page.status_code == 200
    assert b'value="Accept"' in page.content
    assert accepted.status_code == 302
    assert accepted["Location"] == f"/invitations/joined/{world.workspace.pk}"
    membership = Membership.objects.get(workspace=world.workspace, user=invitee.user)
    assert set(membership.teams.values_list("name", flat=True)) == {
        "General",
        "Platform",
    }


def test_signed_in_email_mismatch(world, invitee):
    created = invite(world.owner, world, "someone.else@example.test")
    path = page_path(created.json()["acceptUrl"])
    browser = Client()
    browser.force_login(invitee.user)

    page = browser.get(path)
    posted = browser.post(path)

    assert page.status_code == 403
    assert posted.status_code == 403
    assert not Membership.objects.filter(user=invitee.user).exists()


def test_accept_needs_csrf_token(world, invitee):
    created = invite(world.owner, world, "invitee@example.test")
    path = page_path(created.json()["acceptUrl"])
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(invitee.user)

    response = browser.post(path)

    assert response.status_code == 403
    assert not Membership.objects.filter(user=invitee.user).exists()


def test_signup_needs_csrf_token(world):
    created = invite(world.owner, world, "newcomer@example.test")
    browser = Client(enforce_csrf_checks=True)

    response = signup(browser, page_path(created.json()["acceptUrl"]))

    assert response.status_code == 403
    assert not User.objects.filter(username="newcomer").exists()


def test_page_invalid_token(world):
    for token in ("garbage", "inv_abcdefghijkl_" + "x" * 43):
        response = Client().get(f"/invitations/{token}")
        assert response.status_code == 404
        assert b"not valid" in response.content


def test_page_expired_token(world):
    created = invite(world.owner, world, "newcomer@example.test")
    Invitation.objects.filter(pk=created.json()["id"]).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    response = Client().get(page_path(created.json()["acceptUrl"]))
    posted = signup(Client(), page_path(created.json()["acceptUrl"]))

    assert response.status_code == 410
    assert b"expired" in response.content
    assert posted.status_code == 410
    assert not User.objects.filter(username="newcomer").exists()


def test_page_revoked_token(world):
    created = invite(world.owner, world, "newcomer@example.test")
    world.owner.post(f"{world.base}/invitations/{created.json()['id']}/revoke")

    response = Client().get(page_path(created.json()["acceptUrl"]))

    assert response.status_code == 404


def test_external_mode_offers_no_signup(world, settings):
    settings.SECOND_AUTH_MODE = "external"
    # External mode refuses personal tokens of accounts idle at the provider.
    world.owner.user.last_provider_login_at = timezone.now()
    world.owner.user.save(update_fields=["last_provider_login_at"])
    created = invite(world.owner, world, "newcomer@example.test")
    path = page_path(created.json()["acceptUrl"])

    response = signup(Client(), path)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not User.objects.filter(username="newcomer").exists()


def test_joined_page_needs_membership(world):
    browser = Client()
    browser.force_login(world.outsider.user)

    response = browser.get(f"/invitations/joined/{world.workspace.pk}")

    assert response.status_code == 404
