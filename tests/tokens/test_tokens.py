"""Personal API tokens: listing, revoking, expiry and the revoke command."""

import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import PersonalApiToken
from apps.accounts.services import api_token_create
from apps.audit.models import AuditEvent
from apps.audit.services import Source

NOT_FOUND = b'{"error":"not_found","detail":"Not found."}'
TOKENS = "/api/me/tokens"


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def revoked_events(world, token_id: str):
    return AuditEvent.objects.filter(
        workspace=world.workspace, event_name="api_token.revoked", target_id=token_id
    )


@pytest.fixture
def laptop(world) -> dict:
    response = world.owner.post(TOKENS, {"name": "laptop"})
    assert response.status_code == 201, response.content
    return response.json()


# Listing.


def test_list_own_tokens(world, laptop):
    response = world.owner.get(TOKENS)
    assert response.status_code == 200
    assert [item["name"] for item in response.json()] == ["laptop", "tests"]


def test_list_body_keys(world, laptop):
    (item, _) = world.owner.get(TOKENS).json()
    assert set(item) == {
        "id",
        "name",
        "prefix",
        "createdAt",
        "lastUsedAt",
        "expiresAt",
        "revokedAt",
    }


def test_list_shows_prefix(world, laptop):
    (item, _) = world.owner.get(TOKENS).json()
    assert item["prefix"] == laptop["prefix"]
    assert item["prefix"].startswith("pat_")


def test_list_never_token(world, laptop):
    text = world.owner.get(TOKENS).content.decode()
    assert laptop["token"] not in text
    assert world.owner.token not in text
    assert "token" not in world.owner.get(TOKENS).json()[0]


def test_list_never_hash(world, laptop):
    text = world.owner.get(TOKENS).content.decode()
    hashes = PersonalApiToken.objects.filter(user=world.owner.user).values_list(
        "token_hash", flat=True
    )
    assert [value for value in hashes if value in text] == []


def test_list_never_secret_part(world, laptop):
    secret = laptop["token"].split("_", 2)[2]
    assert secret not in world.owner.get(TOKENS).content.decode()


def test_list_excludes_others(world, laptop):
    ids = {item["id"] for item in world.member.get(TOKENS).json()}
    assert laptop["id"] not in ids


def test_list_shows_revoked(world, laptop):
    world.owner.client.delete(f"{TOKENS}/{laptop['id']}")
    listed = {item["id"]: item for item in world.owner.get(TOKENS).json()}
    assert listed[laptop["id"]]["revokedAt"] is not None


def test_list_shows_last_used(world):
    listed = world.owner.get(TOKENS).json()
    assert listed[0]["lastUsedAt"] is not None


def test_list_anonymous_401(db):
    response = APIClient().get(TOKENS)
    assert response.status_code == 401
    assert response.json()["error"] == "identity_required"


def test_list_queries_constant(world, django_assert_num_queries):
    world.owner.get(TOKENS)  # The first request records the token's last use.
    with CaptureQueriesContext(connection) as one_token:
        assert len(world.owner.get(TOKENS).json()) == 1

    for index in range(49):
        api_token_create(user=world.owner.user, name=f"t{index}", source=Source())
    with django_assert_num_queries(len(one_token.captured_queries)):
        assert len(world.owner.get(TOKENS).json()) == 50


# Creating with an expiry.


def test_create_with_expiry(world):
    expires = (timezone.now() + timedelta(days=7)).isoformat()
    response = world.owner.post(TOKENS, {"name": "ci", "expiresAt": expires})
    assert response.status_code == 201
    assert response.json()["expiresAt"] is not None


def test_create_past_expiry_400(world):
    expires = (timezone.now() - timedelta(minutes=1)).isoformat()
    response = world.owner.post(TOKENS, {"name": "ci", "expiresAt": expires})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "expiresAt" in response.json()["fields"]


def test_create_past_expiry_no_row(world):
    expires = (timezone.now() - timedelta(minutes=1)).isoformat()
    world.owner.post(TOKENS, {"name": "ci", "expiresAt": expires})
    assert not PersonalApiToken.objects.filter(name="ci").exists()


def test_create_bad_expiry_400(world):
    response = world.owner.post(TOKENS, {"name": "ci", "expiresAt": "tomorrow"})
    assert response.status_code == 400
    assert "expiresAt" in response.json()["fields"]


def test_expired_token_401(world):
    api_token, token = api_token_create(
        user=world.owner.user,
        name="short",
        expires_at=timezone.now() + timedelta(hours=1),
        source=Source(),
    )
    PersonalApiToken.objects.filter(pk=api_token.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = bearer(token).get("/api/workspaces")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_unexpired_token_works(world):
    _, token = api_token_create(
        user=world.owner.user,
        name="short",
        expires_at=timezone.now() + timedelta(hours=1),
        source=Source(),
    )
    assert bearer(token).get("/api/workspaces").status_code == 200


# Revoking through the API.


def test_revoke_returns_204(world, laptop):
    response = world.owner.client.delete(f"{TOKENS}/{laptop['id']}")
    assert response.status_code == 204


def test_revoke_sets_revoked_at(world, laptop):
    world.owner.client.delete(f"{TOKENS}/{laptop['id']}")
    assert PersonalApiToken.objects.get(pk=laptop["id"]).revoked_at is not None


def test_revoked_token_401(world, laptop):
    world.owner.client.delete(f"{TOKENS}/{laptop['id']}")
    response = bearer(laptop["token"]).get("/api/workspaces")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_revoke_keeps_other_tokens(world, laptop):
    world.owner.client.delete(f"{TOKENS}/{laptop['id']}")
    assert world.owner.get("/api/workspaces").status_code == 200


def test_revoke_own_current_token(world):
    (item,) = world.owner.get(TOKENS).json()
    assert world.owner.client.delete(f"{TOKENS}/{item['id']}").status_code == 204
    assert world.owner.get("/api/workspaces").status_code == 401


def test_revoke_audited(world, laptop):
    world.owner.client.delete(f"{TOKENS}/{laptop['id']}")
    event = revoked_events(world, laptop["id"]).get()
    assert event.actor_id == str(world.owner.user.pk)
    assert event.actor_role == "owner"


def test_revoke_twice_409(world, laptop):
    world.owner.client.delete(f"{TOKENS}/{laptop['id']}")
    response = world.owner.client.delete(f"{TOKENS}/{laptop['id']}")
    assert response.status_code == 409
    assert response.json()["error"] == "api_token_already_revoked"
    assert revoked_events(world, laptop["id"]).count() == 1


def test_revoke_others_token_404(world, laptop):
    response = world.member.client.delete(f"{TOKENS}/{laptop['id']}")
    assert response.status_code == 404
    assert response.content == NOT_FOUND


def test_revoke_others_token_kept(world, laptop):
    world.outsider.client.delete(f"{TOKENS}/{laptop['id']}")
    assert PersonalApiToken.objects.get(pk=laptop["id"]).revoked_at is None
    assert bearer(laptop["token"]).get("/api/workspaces").status_code == 200


@pytest.mark.parametrize("token_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_revoke_unknown_id_404(world, token_id):
    response = world.owner.client.delete(f"{TOKENS}/{token_id}")
    assert response.content == NOT_FOUND


def test_revoke_trailing_slash(world, laptop):
    response = world.owner.client.delete(f"{TOKENS}/{laptop['id']}/")
    assert response.status_code == 204


def test_revoke_anonymous_401(world, laptop):
    response = APIClient().delete(f"{TOKENS}/{laptop['id']}")
    assert response.status_code == 401


# The revoke_api_token command.


def revoke(*args: str) -> str:
    output = StringIO()
    call_command("revoke_api_token", *args, stdout=output)
    return output.getvalue()


def test_command_revokes(world, laptop):
    revoke(laptop["id"])
    assert PersonalApiToken.objects.get(pk=laptop["id"]).revoked_at is not None


def test_command_output(world, laptop):
    output = revoke(laptop["id"])
    assert laptop["id"] in output
    assert laptop["token"] not in output


def test_command_token_refused(world, laptop):
    revoke(laptop["id"])
    assert bearer(laptop["token"]).get("/api/workspaces").status_code == 401


def test_command_audited(world, laptop):
    revoke(laptop["id"])
    event = revoked_events(world, laptop["id"]).get()
    assert event.actor_kind == "system"
    assert event.actor_display == "manage.py revoke_api_token"
    assert event.source_trust == "ops_cli"


def test_command_unknown_id(world):
    missing = str(uuid.uuid4())
    with pytest.raises(CommandError, match=missing):
        revoke(missing)


def test_command_malformed_id(world):
    with pytest.raises(CommandError, match="not-a-uuid"):
        revoke("not-a-uuid")


def test_command_token_not_id(world, laptop):
    with pytest.raises(CommandError, match="not the token"):
        revoke(laptop["token"])


def test_command_already_revoked(world, laptop):
    revoke(laptop["id"])
    with pytest.raises(CommandError, match="already revoked"):
        revoke(laptop["id"])


def test_command_needs_id(world):
    with pytest.raises(CommandError):
        call_command("revoke_api_token")
