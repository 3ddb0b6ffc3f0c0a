"""The token response variants a refresh may bring, and what each leaves stored."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.integrations.connected_accounts import tokens_save
from apps.integrations.models import ConnectedAccount, OAuthProviderConfig
from apps.integrations.oauth_http import TokenResponse
from apps.secret_store.store import secret_store

pytestmark = pytest.mark.django_db

OLD_ACCESS = "access-CANARY-old-1f2e"
OLD_REFRESH = "refresh-CANARY-old-3a4b"


@pytest.fixture
def account(world) -> ConnectedAccount:
    config = OAuthProviderConfig.objects.create(
        workspace=world.workspace,
        provider_key="calendar",
        authorization_url="https://auth.provider.example/o/authorize/",
        token_url="https://auth.provider.example/o/token/",
    )
    account = ConnectedAccount.objects.create(
        workspace=world.workspace,
        config=config,
        user=world.member.user,
        granted_scopes=["calendar.read"],
    )
    tokens_save(
        account,
        TokenResponse(OLD_ACCESS, OLD_REFRESH, expires_in=60, scope="calendar.read"),
    )
    account.save()
    return account


def saved(account, token: TokenResponse) -> ConnectedAccount:
    tokens_save(account, token)
    account.save()
    return ConnectedAccount.objects.get(pk=account.pk)


def read(stored) -> str | None:
    return secret_store().read(stored)


def test_missing_refresh_keeps_old(account):
    after = saved(account, TokenResponse("access-new", None, 3600, None))

    assert read(after.refresh_token) == OLD_REFRESH
    assert read(after.access_token) == "access-new"


def test_new_refresh_replaces_old(account):
    after = saved(account, TokenResponse("access-new", "refresh-new", 3600, None))

    assert read(after.refresh_token) == "refresh-new"
    assert after.refresh_token_id == account.refresh_token_id


def test_only_new_expiry_keeps_scopes(account):
    before = timezone.now()

    after = saved(account, TokenResponse("access-new", None, 7200, None))

    assert after.granted_scopes == ["calendar.read"]
    assert after.access_expires_at >= before + timedelta(seconds=7199)


def test_no_expiry_means_no_refresh_due(account):
    after = saved(account, TokenResponse("access-new", None, None, None))

    assert after.access_expires_at is None


def test_narrower_scope_is_recorded(account):
    after = saved(account, TokenResponse("access-new", None, 3600, "profile"))

    assert after.granted_scopes == ["profile"]


def test_token_response_repr_hides_tokens():
    token = TokenResponse(OLD_ACCESS, OLD_REFRESH, 60, "calendar.read")

    assert OLD_ACCESS not in repr(token)
    assert OLD_REFRESH not in repr(token)
