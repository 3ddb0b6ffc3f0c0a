"""The encryption-key check, a Django system check.

It fails when a stored ciphertext or canary names a key id that
SECOND_TOKEN_ENCRYPTION_KEY does not list, or when a configured key does not
decrypt its own canary. With WorkOS Vault configured it checks the local keys
only while rows of the local store remain. It passes while the tables do not
exist yet, so the first `migrate` runs. Messages name key ids, never keys.
"""

from pathlib import Path

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection

TABLES = ("secret_store_storedsecret", "secret_store_keycanary")


def _tables_exist() -> bool:
    name = str(connection.settings_dict.get("NAME") or "")
    in_memory = name == ":memory:" or name.startswith("file:")
    if connection.vendor == "sqlite" and not in_memory and not Path(name).exists():
        # No database file yet: nothing is stored, and opening it would create it.
        return False
    return set(TABLES) <= set(connection.introspection.table_names())


def _unknown_key_errors(configured: set[str]) -> list[checks.CheckMessage]:
    from apps.secret_store.models import KeyCanary, StoredSecret

    used = set(
        StoredSecret.objects.filter(backend=StoredSecret.Backend.LOCAL)
        .exclude(key_id="")
        .values_list("key_id", flat=True)
        .distinct()
    )
    used |= set(KeyCanary.objects.values_list("key_id", flat=True))
    return [
        checks.Error(
            f"Stored ciphertexts name key {key_id}, which SECOND_TOKEN_ENCRYPTION_KEY "
            "does not list.",
            hint="Add that key back to SECOND_TOKEN_ENCRYPTION_KEY (after the newest "
            "key) until every secret has been rotated off it.",
            id="secret_store.E002",
        )
        for key_id in sorted(used - configured)
    ]


def _canary_errors(configured: set[str]) -> list[checks.CheckMessage]:
    from apps.secret_store.canary import canary_decrypts
    from apps.secret_store.models import KeyCanary

    return [
        checks.Error(
            f"The key configured as {canary.key_id} does not decrypt its canary.",
            hint="SECOND_TOKEN_ENCRYPTION_KEY lists a different key under that id; "
            "restore the original key.",
            id="secret_store.E003",
        )
        for canary in KeyCanary.objects.filter(key_id__in=configured)
        if not canary_decrypts(canary)
    ]


def _local_store_errors() -> list[checks.CheckMessage]:
    from apps.secret_store.keys import keyring

    try:
        configured = {key.key_id for key in keyring()}
    except ImproperlyConfigured as error:
        return [checks.Error(str(error), id="secret_store.E001")]
    if not _tables_exist():
        return []
    return _unknown_key_errors(configured) + _canary_errors(configured)


def _local_rows_exist() -> bool:
    from apps.secret_store.models import StoredSecret

    if not _tables_exist():
        return False
    return StoredSecret.objects.filter(backend=StoredSecret.Backend.LOCAL).exists()


@checks.register()
def encryption_key_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    try:
        if settings.WORKOS_API_KEY and not _local_rows_exist():
            # WorkOS Vault stores every secret, so no local key is needed.
            return []
        return _local_store_errors()
    except DatabaseError:
        return [
            checks.Warning(
                "The stored ciphertexts could not be checked: the database is not "
                "reachable.",
                id="secret_store.W001",
            )
        ]
