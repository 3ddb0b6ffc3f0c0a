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


class OAuthProviderConfig(models.Model):
    """A customer-owned OAuth app of one workspace, per providerKey.

    The setup sync creates it as a shell from the builder's OAuth metadata. An
    admin then completes it with the client id and the client secret. The
    secret is stored in the secret store, and this row keeps its reference.
    """

    class TokenAuthMethod(models.TextChoices):
        CLIENT_SECRET_POST = "client_secret_post"
        CLIENT_SECRET_BASIC = "client_secret_basic"
        NONE = "none"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="oauth_configs"
    )
    provider_key = models.CharField(max_length=100)
    name = models.CharField(max_length=120, blank=True)
    authorization_url = models.URLField(max_length=2000)
    token_url = models.URLField(max_length=2000)
    revocation_url = models.URLField(max_length=2000, blank=True)
    userinfo_url = models.URLField(max_length=2000, blank=True)
    token_auth_method = models.CharField(
        max_length=32,
        choices=TokenAuthMethod.choices,
        default=TokenAuthMethod.CLIENT_SECRET_POST,
    )
    authorization_params = models.JSONField(default=dict, blank=True)
    token_params = models.JSONField(default=dict, blank=True)
    client_id = models.CharField(max_length=500, blank=True)
    client_secret = models.OneToOneField(
        "secret_store.StoredSecret",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    client_secret_rotated_at = models.DateTimeField(null=True, blank=True)
    configured_at = models.DateTimeField(null=True, blank=True)
    configured_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "provider_key"],
                name="integrations_oauth_config_unique_key",
            )
        ]
        ordering = ["provider_key"]

    def __str__(self) -> str:
        return self.name or self.provider_key


class ConnectedAccount(models.Model):
    """One user's account at a workspace's OAuth provider.

    The access and refresh tokens are stored in the secret store. `status`
    decides whether calls may use the account, and `status_reason` is the
    message that tells the user what to do when they may not.
    """

    class Status(models.TextChoices):
        ACTIVE = "active"
        NEEDS_RECONNECT = "needs_reconnect"
        REVOKED = "revoked"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="+"
    )
    config = models.ForeignKey(
        OAuthProviderConfig, on_delete=models.CASCADE, related_name="accounts"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="connected_accounts",
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.ACTIVE
    )
    status_reason = models.CharField(max_length=200, blank=True)
    granted_scopes = models.JSONField(default=list, blank=True)
    upstream_sub = models.CharField(max_length=255, blank=True)
    upstream_email = models.CharField(max_length=254, blank=True)
    client_id = models.CharField(max_length=500, blank=True)
    access_token = models.OneToOneField(
        "secret_store.StoredSecret",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    refresh_token = models.OneToOneField(
        "secret_store.StoredSecret",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    access_expires_at = models.DateTimeField(null=True, blank=True)
    connected_at = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["config", "user"], name="integrations_account_one_per_user"
            )
        ]
        ordering = ["-connected_at"]

    def __str__(self) -> str:
        return f"{self.config} account of {self.user_id}"
