"""The encryption-key system check: stored ciphertexts and canaries must match
the configured keys, and messages name key ids, never keys."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from apps.secret_store.checks import encryption_key_check
from apps.secret_store.keys import keyring
from apps.secret_store.models import KeyCanary
from apps.secret_store.store import secret_store

pytestmark = pytest.mark.django_db

OLD_KEY = "11" * 32
NEW_KEY = "22" * 32


def error_ids(messages) -> list[str]:
    return [message.id for message in messages if message.is_serious()]


def store_one(settings, key: str):
    settings.SECOND_TOKEN_ENCRYPTION_KEY = key
    return secret_store().put(
        workspace_id="00000000-0000-0000-0000-000000000001",
        purpose="test:secret",
        value="sk_live_CANARY_7f3a9c",
    )


def test_check_passes_with_its_key(settings):
    store_one(settings, OLD_KEY)

    assert error_ids(encryption_key_check()) == []
    assert KeyCanary.objects.count() == 1


def test_missing_old_key_fails_check(settings):
    store_one(settings, OLD_KEY)
    old_id = keyring()[0].key_id
    settings.SECOND_TOKEN_ENCRYPTION_KEY = NEW_KEY

    messages = encryption_key_check()

    assert "secret_store.E002" in error_ids(messages)
    text = " ".join(message.msg for message in messages)
    assert old_id in text
    assert OLD_KEY not in text
    assert NEW_KEY not in text


def test_old_key_listed_second_passes(settings):
    store_one(settings, OLD_KEY)
    settings.SECOND_TOKEN_ENCRYPTION_KEY = f"{NEW_KEY},{OLD_KEY}"

    assert error_ids(encryption_key_check()) == []


def test_changed_key_fails_canary(settings):
    store_one(settings, OLD_KEY)
    canary = KeyCanary.objects.get()
    canary.ciphertext = canary.ciphertext[:-4] + "AAAA"
    canary.save()

    assert "secret_store.E003" in error_ids(encryption_key_check())


def test_manage_check_refuses(settings):
    store_one(settings, OLD_KEY)
    settings.SECOND_TOKEN_ENCRYPTION_KEY = NEW_KEY

    with pytest.raises(SystemCheckError) as refused:
        call_command("check")

    assert "secret_store.E002" in str(refused.value)
    assert OLD_KEY not in str(refused.value)


def test_vault_without_local_rows_passes(settings):
    settings.WORKOS_API_KEY = "sk_test_unused"
    settings.SECOND_TOKEN_ENCRYPTION_KEY = ""

    assert error_ids(encryption_key_check()) == []


def test_vault_with_local_rows_checks_keys(settings):
    store_one(settings, OLD_KEY)
    settings.WORKOS_API_KEY = "sk_test_unused"
    settings.SECOND_TOKEN_ENCRYPTION_KEY = NEW_KEY

    assert "secret_store.E002" in error_ids(encryption_key_check())
