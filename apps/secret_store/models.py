import uuid

from django.db import models


class StoredSecret(models.Model):
    """One secret value held by the secret store, addressed by its id.

    For the local adapter `ciphertext` is the authenticated encryption of the
    value, with the key id in its header and the workspace id and purpose bound in
    as associated data. For WorkOS Vault only the object's id and version live
    here. No field ever contains a plaintext value.
    """

    class Backend(models.TextChoices):
        LOCAL = "local"
        WORKOS = "workos"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace_id = models.UUIDField(db_index=True)
    purpose = models.CharField(max_length=200)
    backend = models.CharField(max_length=16, choices=Backend.choices)
    key_id = models.CharField(max_length=32, blank=True, db_index=True)
    ciphertext = models.TextField(blank=True)
    vault_object_id = models.CharField(max_length=200, blank=True)
    vault_version = models.CharField(max_length=200, blank=True)
    # Bumped by every change of the value; a writer that read an older version
    # gets SecretConflict instead of overwriting a newer value.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"secret {self.id} ({self.purpose})"


class KeyCanary(models.Model):
    """A known plaintext encrypted under one key, to prove the key still decrypts."""

    key_id = models.CharField(max_length=32, primary_key=True)
    ciphertext = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"canary of key {self.key_id}"
