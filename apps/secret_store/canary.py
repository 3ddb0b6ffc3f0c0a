"""Key canaries: a known value encrypted under each key, written on first use.

A canary that no longer decrypts proves that the key configured under its id
changed, before any real secret is read with it.
"""

from apps.secret_store.keys import keyring
from apps.secret_store.local import decrypt, encrypt
from apps.secret_store.models import KeyCanary

CANARY_VALUE = "second-key-canary"
CANARY_WORKSPACE = "key-canary"


def canary_purpose(key_id: str) -> str:
    return f"key-canary:{key_id}"


def canary_ensure_newest() -> None:
    """Write the newest key's canary if it has none yet."""
    newest = keyring()[0]
    if KeyCanary.objects.filter(key_id=newest.key_id).exists():
        return
    key_id, ciphertext = encrypt(
        workspace_id=CANARY_WORKSPACE,
        purpose=canary_purpose(newest.key_id),
        value=CANARY_VALUE,
    )
    KeyCanary.objects.get_or_create(key_id=key_id, defaults={"ciphertext": ciphertext})


def canary_decrypts(canary: KeyCanary) -> bool:
    from apps.secret_store.errors import SecretUnavailable

    try:
        value = decrypt(
            secret_id=f"canary-{canary.key_id}",
            workspace_id=CANARY_WORKSPACE,
            purpose=canary_purpose(canary.key_id),
            ciphertext=canary.ciphertext,
        )
    except SecretUnavailable:
        return False
    return value == CANARY_VALUE
