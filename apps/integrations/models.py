import uuid

from django.conf import settings
from django.db import models


class IntegrationGrant(models.Model):
    """App-scoped access to one integration, unique per (workspace, app, domain,
    keySlug).

    The access contract (requested permission pairs, secret names, access level,
    fingerprint) comes from the app's integration-setup.json; the configured
    groups and secret names record what an admin set up, which decides whether
    the grant still needs setup.
    """

    class AuthType(models.TextChoices):
        STATIC = "static"
        OAUTH2 = "oauth2"
        NONE = "none"

    class Status(models.TextChoices):
        ACTIVE = "active"
        ORPHANED = "orphaned"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="grants"
    )
    app = models.ForeignKey(
        "applications.App", on_delete=models.CASCADE, related_name="grants"
    )
    domain = models.CharField(max_length=253)
    key_slug = models.CharField(max_length=64, default="default")
    name = models.CharField(max_length=120)
    key_name = models.CharField(max_length=120, blank=True)
    capability_label = models.CharField(max_length=200, blank=True)
    why = models.TextField(blank=True)
    auth_type = models.CharField(
        max_length=16, choices=AuthType.choices, default=AuthType.STATIC
    )
    auth = models.JSONField(default=dict, blank=True)
    permission_groups = models.JSONField(default=list, blank=True)
    requested_secrets = models.JSONField(default=list, blank=True)
    setup_instructions = models.JSONField(default=dict, blank=True)
    access_contract = models.JSONField(default=dict, blank=True)
    configured_groups = models.JSONField(default=list, blank=True)
    configured_secret_names = models.JSONField(default=list, blank=True)
    configured_at = models.DateTimeField(null=True, blank=True)
    configured_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "app", "domain", "key_slug"],
                name="integrations_grant_unique_key",
            )
        ]
        ordering = ["domain", "key_slug"]

    def __str__(self) -> str:
        return f"{self.name} ({self.domain}/{self.key_slug})"


class GrantSecret(models.Model):
    """A named static secret of a grant; the value lives only in the secret store."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    grant = models.ForeignKey(
        IntegrationGrant, on_delete=models.CASCADE, related_name="secrets"
    )
    name = models.CharField(max_length=100)
    stored_secret = models.OneToOneField(
        "secret_store.StoredSecret", on_delete=models.CASCADE, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["grant", "name"], name="integrations_secret_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.name
