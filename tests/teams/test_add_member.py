"""The add_member command: an operator adds an account to a workspace."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.accounts.models import User
from apps.audit.models import AuditEvent
from apps.workspaces.models import Membership, Team


def add_member(*args: str) -> str:
    output = StringIO()
    call_command("add_member", *args, stdout=output)
    return output.getvalue()


@pytest.fixture
def dana(db) -> User:
    return User.objects.create_user(
        username="dana", email="dana@example.test", password="unused-pass-1"
    )


def test_adds_by_slug(world, dana):
    add_member("--workspace", "acme", "--user", "dana", "--role", "member")
    membership = Membership.objects.get(workspace=world.workspace, user=dana)
    assert membership.role == "member"


def test_adds_by_id(world, dana):
    add_member(
        "--workspace", str(world.workspace.pk), "--user", "dana", "--role", "admin"
    )
    assert Membership.objects.get(user=dana).role == "admin"


def test_adds_by_email(world, dana):
    add_member("--workspace", "acme", "--user", "DANA@example.test", "--role", "member")
    assert Membership.objects.filter(user=dana).exists()


def test_joins_general(world, dana):
    add_member("--workspace", "acme", "--user", "dana", "--role", "member")
    general = Team.objects.get(workspace=world.workspace, is_default=True)
    assert general.members.filter(user=dana).exists()


def test_owner_becomes_staff(world, dana):
    add_member("--workspace", "acme", "--user", "dana", "--role", "owner")
    dana.refresh_from_db()
    assert dana.is_staff is True


def test_audited(world, dana):
    add_member("--workspace", "acme", "--user", "dana", "--role", "member")
    event = AuditEvent.objects.get(
        workspace=world.workspace, event_name="member.added", target_name="dana"
    )
    assert event.actor_kind == "system"
    assert event.actor_display == "manage.py add_member"
    assert event.source_trust == "ops_cli"


def test_output_names_membership(world, dana):
    output = add_member("--workspace", "acme", "--user", "dana", "--role", "member")
    membership = Membership.objects.get(user=dana)
    assert str(membership.pk) in output
    assert "dana@example.test" not in output


def test_unknown_workspace(world, dana):
    with pytest.raises(CommandError, match="--workspace"):
        add_member("--workspace", "nowhere", "--user", "dana", "--role", "member")


def test_unknown_user(world):
    with pytest.raises(CommandError, match="--user"):
        add_member("--workspace", "acme", "--user", "nobody", "--role", "member")


def test_inactive_user(world, dana):
    dana.is_active = False
    dana.save(update_fields=["is_active"])
    with pytest.raises(CommandError, match="--user"):
        add_member("--workspace", "acme", "--user", "dana", "--role", "member")


def test_invalid_role(world, dana):
    with pytest.raises(CommandError, match="owner, admin, member"):
        add_member("--workspace", "acme", "--user", "dana", "--role", "boss")


def test_invalid_role_writes_nothing(world, dana):
    with pytest.raises(CommandError):
        add_member("--workspace", "acme", "--user", "dana", "--role", "boss")
    assert not Membership.objects.filter(user=dana).exists()


def test_existing_member(world):
    with pytest.raises(CommandError, match="already a member"):
        add_member("--workspace", "acme", "--user", "member", "--role", "admin")


def test_existing_member_role_kept(world):
    with pytest.raises(CommandError):
        add_member("--workspace", "acme", "--user", "member", "--role", "admin")
    assert Membership.objects.get(user=world.member.user).role == "member"


def test_missing_arguments(world):
    with pytest.raises(CommandError):
        call_command("add_member", "--workspace", "acme")
