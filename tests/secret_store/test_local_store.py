"""The local AES-GCM secret store: round trips, bindings, key ids and key parsing."""

import base64
import logging
import os
import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from apps.secret_store.errors import SecretConflict, SecretUnavailable
from apps.secret_store.keys import keyring, parse_key
from apps.secret_store.local import LocalEncryptedStore
from apps.secret_store.models import StoredSecret
from apps.secret_store.store import secret_store

pytestmark = pytest.mark.django_db

PLAINTEXT = "xoxb-CANARY-4e1d-sk_live_CANARY"
PURPOSE = "grant:slack.com:default:SLACK_BOT_TOKEN"


def random_hex_key() -> str:
    return os.urandom(32).hex()


def plaintext_forms(value: str) -> list[str]:
    raw = value.encode()
    return [
        value,
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        raw.hex(),
    ]


@pytest.fixture
def key_a(settings) -> str:
    key = random_hex_key()
    settings.SECOND_TOKEN_ENCRYPTION_KEY = key
    return key


@pytest.fixture
def store(key_a) -> LocalEncryptedStore:
    return LocalEncryptedStore()


@pytest.fixture
def workspace_id() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def stored(store, workspace_id) -> StoredSecret:
    return store.put(workspace_id=workspace_id, purpose=PURPOSE, value=PLAINTEXT)


def reload(secret: StoredSecret) -> StoredSecret:
    return StoredSecret.objects.get(pk=secret.pk)


# Round trip.


def test_put_read_round_trip(store, stored):
    assert store.read(reload(stored)) == PLAINTEXT


def test_rotate_replaces_value(store, stored):
    store.rotate(reload(stored), value="xoxb-second-value")
    assert store.read(reload(stored)) == "xoxb-second-value"


def test_rotate_changes_ciphertext(store, stored):
    before = stored.ciphertext
    store.rotate(reload(stored), value=PLAINTEXT)
    assert reload(stored).ciphertext != before


def test_delete_removes_row(store, stored):
    store.delete(reload(stored))
    assert not StoredSecret.objects.filter(pk=stored.pk).exists()


def test_read_empty_is_absent(store, workspace_id):
    secret = StoredSecret.objects.create(
        workspace_id=workspace_id, purpose=PURPOSE, backend="local"
    )
    assert store.read(secret) is None


def test_same_value_new_nonce(store, workspace_id):
    first = store.put(workspace_id=workspace_id, purpose=PURPOSE, value=PLAINTEXT)
    second = store.put(workspace_id=workspace_id, purpose=PURPOSE, value=PLAINTEXT)
    assert first.ciphertext != second.ciphertext


def test_store_writes_local_without_vault(key_a):
    assert secret_store().backend == StoredSecret.Backend.LOCAL


def test_vault_row_without_vault_key_fails_closed(store, stored):
    stored.backend = StoredSecret.Backend.WORKOS

    with pytest.raises(SecretUnavailable) as refused:
        secret_store().read(stored)

    assert "WORKOS_API_KEY" in refused.value.reason


def test_rotate_of_stale_version_conflicts(store, stored):
    stale = reload(stored)
    store.rotate(stored, value="xoxb-second-value")

    with pytest.raises(SecretConflict):
        store.rotate(stale, value="xoxb-lost-update")

    assert store.read(reload(stored)) == "xoxb-second-value"


def test_rotate_bumps_version(store, stored):
    before = stored.version

    store.rotate(stored, value="xoxb-second-value")

    assert reload(stored).version == before + 1


# What the row stores.


@pytest.mark.parametrize("form", range(len(plaintext_forms(PLAINTEXT))))
def test_ciphertext_hides_plaintext(stored, form):
    text = plaintext_forms(PLAINTEXT)[form]
    assert text not in reload(stored).ciphertext


@pytest.mark.parametrize("form", range(len(plaintext_forms(PLAINTEXT))))
def test_row_hides_plaintext(stored, form):
    """No column of the table, as the database stores it, contains the plaintext."""
    text = plaintext_forms(PLAINTEXT)[form]
    table = connection.ops.quote_name(StoredSecret._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608
        rows = cursor.fetchall()
    cells = [str(cell) for row in rows for cell in row]
    assert [cell for cell in cells if text in cell] == []


def test_ciphertext_names_key_id(stored):
    assert reload(stored).ciphertext.split(".")[1] == keyring()[0].key_id


def test_row_key_id_matches(stored):
    assert reload(stored).key_id == keyring()[0].key_id


def test_ciphertext_omits_key(key_a, stored):
    assert key_a not in reload(stored).ciphertext


# Bindings: a ciphertext decrypts only for its own workspace and purpose.


@pytest.mark.parametrize(
    "change",
    [
        {"workspace_id": uuid.uuid4()},
        {"purpose": "grant:slack.com:default:OTHER_SECRET"},
        {"workspace_id": uuid.uuid4(), "purpose": "oauth:refresh_token"},
    ],
    ids=["other workspace", "other purpose", "both"],
)
def test_copied_ciphertext_unavailable(store, stored, change):
    fields = {"workspace_id": stored.workspace_id, "purpose": stored.purpose, **change}
    copy = StoredSecret.objects.create(
        backend="local", key_id=stored.key_id, ciphertext=stored.ciphertext, **fields
    )
    with pytest.raises(SecretUnavailable):
        store.read(copy)


def tampered(ciphertext: str) -> str:
    head, _, encoded = ciphertext.rpartition(".")
    raw = bytearray(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    raw[-1] ^= 0x01
    return f"{head}.{base64.urlsafe_b64encode(bytes(raw)).decode().rstrip('=')}"


@pytest.mark.parametrize(
    "rewrite",
    [
        tampered,
        lambda text: "sv0" + text[3:],
        lambda text: text.split(".")[0],
        lambda text: "plain text",
        lambda text: text.rpartition(".")[0] + ".A",
        lambda text: text.rpartition(".")[0] + ".!!!!",
    ],
    ids=[
        "flipped bit",
        "unknown format",
        "no key id",
        "not a ciphertext",
        "broken base64",
        "short nonce",
    ],
)
def test_damaged_ciphertext_unavailable(store, stored, rewrite):
    StoredSecret.objects.filter(pk=stored.pk).update(
        ciphertext=rewrite(stored.ciphertext)
    )
    with pytest.raises(SecretUnavailable):
        store.read(reload(stored))


# Unknown key ids.


@pytest.fixture
def unknown_key(settings, store, stored):
    """Configure only a new key, so the stored ciphertext names a missing key, and
    return the missing key's id and the error that reading raises."""
    old_id = keyring()[0].key_id
    settings.SECOND_TOKEN_ENCRYPTION_KEY = random_hex_key()
    with pytest.raises(SecretUnavailable) as raised:
        store.read(reload(stored))
    return old_id, raised.value


def test_unknown_key_names_id(unknown_key):
    old_id, error = unknown_key
    assert old_id in str(error)


def test_unknown_key_hides_key(key_a, unknown_key):
    _, error = unknown_key
    assert key_a not in str(error)


def test_unknown_key_hides_material(key_a, unknown_key):
    _, error = unknown_key
    material = bytes.fromhex(key_a)
    assert base64.b64encode(material).decode().rstrip("=") not in str(error)


# Key parsing.

RAW = bytes(range(32))

FULL_KEYS = [
    (base64.b64encode(RAW).decode(), "base64"),
    (base64.b64encode(RAW).decode().rstrip("="), "base64 without padding"),
    (base64.urlsafe_b64encode(RAW).decode(), "base64url"),
    (RAW.hex(), "hex"),
    (RAW.hex().upper(), "upper-case hex"),
]


@pytest.mark.parametrize("value", [value for value, _ in FULL_KEYS])
def test_parse_full_key_material(value):
    assert parse_key(value).material == RAW


@pytest.mark.parametrize("value", [value for value, _ in FULL_KEYS])
def test_parse_full_key_not_passphrase(value):
    assert parse_key(value).from_passphrase is False


def test_parse_same_bytes_same_id():
    assert (
        parse_key(RAW.hex()).key_id == parse_key(base64.b64encode(RAW).decode()).key_id
    )


PASSPHRASES = [
    "correct horse battery staple",
    "short",
    "g" * 64,
    base64.b64encode(bytes(16)).decode(),
    base64.b64encode(bytes(range(48))).decode(),
    # Its 43 letters alone would decode as base64 to 32 bytes, but the spaces
    # make the whole value something other than base64.
    "the quick brown fox jumps over the lazy dog once more",
]


@pytest.mark.parametrize("value", PASSPHRASES)
def test_parse_passphrase_flagged(value):
    assert parse_key(value).from_passphrase is True


@pytest.mark.parametrize("value", PASSPHRASES)
def test_parse_passphrase_key_length(value):
    assert len(parse_key(value).material) == 32


def test_parse_passphrase_deterministic():
    assert parse_key("correct horse").material == parse_key("correct horse").material


def test_key_repr_hides_material():
    key = parse_key(RAW.hex())
    assert RAW.hex() not in repr(key)


@pytest.fixture
def passphrase_log(settings, caplog):
    """Load a keyring whose newest key is a passphrase, capturing the log."""
    passphrase = f"passphrase {uuid.uuid4()}"
    settings.SECOND_TOKEN_ENCRYPTION_KEY = passphrase
    with caplog.at_level(logging.WARNING, logger="apps.secret_store.keys"):
        keys = keyring()
    return passphrase, keys[0], caplog.text


def test_passphrase_logged_by_id(passphrase_log):
    _, key, text = passphrase_log
    assert key.key_id in text


def test_passphrase_logged_as_passphrase(passphrase_log):
    _, _, text = passphrase_log
    assert "passphrase" in text


def test_passphrase_log_hides_value(passphrase_log):
    passphrase, _, text = passphrase_log
    assert passphrase not in text


def test_passphrase_log_hides_material(passphrase_log):
    _, key, text = passphrase_log
    assert key.material.hex() not in text


def test_full_key_not_logged(settings, caplog):
    settings.SECOND_TOKEN_ENCRYPTION_KEY = random_hex_key()
    with caplog.at_level(logging.WARNING, logger="apps.secret_store.keys"):
        keyring()
    assert "passphrase" not in caplog.text


# Rotation through a comma-separated list, newest first.


@pytest.fixture
def rotated(settings, key_a, store, workspace_id):
    """A secret written under key A, then the list `B,A` configured."""
    old = store.put(workspace_id=workspace_id, purpose=PURPOSE, value="old value")
    key_b = random_hex_key()
    settings.SECOND_TOKEN_ENCRYPTION_KEY = f"{key_b}, {key_a}"
    return old, key_b


def test_rotation_reads_old_key(store, rotated):
    old, _ = rotated
    assert store.read(reload(old)) == "old value"


def test_rotation_writes_newest(store, rotated, workspace_id):
    _, key_b = rotated
    new = store.put(workspace_id=workspace_id, purpose=PURPOSE, value="new value")
    assert new.key_id == parse_key(key_b).key_id


def test_rotation_rotate_writes_newest(store, rotated):
    old, key_b = rotated
    store.rotate(reload(old), value="old value")
    assert reload(old).key_id == parse_key(key_b).key_id


def test_rotation_old_key_removed(settings, store, rotated):
    old, key_b = rotated
    settings.SECOND_TOKEN_ENCRYPTION_KEY = key_b
    with pytest.raises(SecretUnavailable):
        store.read(reload(old))


def test_rotation_new_after_removal(settings, store, rotated, workspace_id):
    _, key_b = rotated
    new = store.put(workspace_id=workspace_id, purpose=PURPOSE, value="new value")
    settings.SECOND_TOKEN_ENCRYPTION_KEY = key_b
    assert store.read(reload(new)) == "new value"


# Keys that look cut short.


def damaged_keys() -> list[str]:
    full = os.urandom(32)
    return [
        full.hex()[:-2],
        full.hex() + "ab",
        base64.b64encode(full).decode()[:-3],
        base64.urlsafe_b64encode(full).decode().rstrip("=")[:-1],
    ]


@pytest.mark.parametrize("position", range(len(damaged_keys())))
def test_damaged_key_rejected(settings, position):
    value = damaged_keys()[position]
    settings.SECOND_TOKEN_ENCRYPTION_KEY = f"{random_hex_key()},{value}"

    with pytest.raises(ImproperlyConfigured) as rejected:
        keyring()

    assert "key 2 of SECOND_TOKEN_ENCRYPTION_KEY" in str(rejected.value)
    assert value not in str(rejected.value)


@pytest.mark.parametrize(
    "passphrase",
    ["correct horse battery staple", "hunter2", "Tr0ub4dor&3-is-a-passphrase-too"],
)
def test_passphrase_not_rejected(settings, passphrase):
    settings.SECOND_TOKEN_ENCRYPTION_KEY = passphrase

    assert keyring()[0].from_passphrase is True


def test_key_id_column_mismatch_unavailable(store, stored):
    stored.key_id = "000000000000"

    with pytest.raises(SecretUnavailable) as refused:
        store.read(stored)

    assert "does not match" in refused.value.reason
