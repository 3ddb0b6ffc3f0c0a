"""The grant's admin page: its contract and a write-only form for its secrets."""

from django import forms
from django.contrib import admin, messages

from apps.agents.domains import describe_domain
from apps.audit.services import Actor, Source
from apps.core.errors import ApiError
from apps.integrations.contracts import setup_reasons
from apps.integrations.grant_secrets import (
    grant_configure_secrets,
    grant_delete,
    grant_reset,
)
from apps.integrations.models import IntegrationGrant, OAuthProviderConfig
from apps.integrations.oauth_configs import (
    URL_FIELDS,
    config_configure,
    config_is_complete,
    provider_url_problem,
    redirect_uri,
)
from apps.workspaces.admin_base import WorkspaceScopedAdmin
from apps.workspaces.selectors import role_in

SECRET_FIELD_PREFIX = "secret__"


class GrantSecretsForm(forms.ModelForm):
    """The write-only secret form; the admin adds one password field per secret."""

    class Meta:
        model = IntegrationGrant
        fields = []

    def secret_values(self) -> dict[str, str]:
        return {
            name.removeprefix(SECRET_FIELD_PREFIX): value
            for name, value in self.cleaned_data.items()
            if name.startswith(SECRET_FIELD_PREFIX) and value
        }


def secret_field(secret: dict) -> forms.CharField:
    """Return a password field that never renders a stored value back."""
    return forms.CharField(
        label=secret.get("label") or secret["name"],
        help_text=f"{secret['name']}. {secret.get('description', '')} Leave empty to "
        "keep the stored value.",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
    )


@admin.register(IntegrationGrant)
class IntegrationGrantAdmin(WorkspaceScopedAdmin):
    diff_scope = "grant"
    form = GrantSecretsForm
    list_display = ("name", "domain", "key_slug", "app", "status", "needs_setup")
    list_filter = ("status", "auth_type")
    search_fields = ("name", "domain")
    actions = ("reset_secrets",)
    readonly_fields = (
        "workspace",
        "app",
        "name",
        "domain_scope",
        "key_slug",
        "auth_type",
        "status",
        "setup_state",
        "access_contract",
        "secret_rotations",
        "configured_at",
    )

    def _secret_fields(self, obj) -> dict[str, forms.CharField]:
        secrets = obj.requested_secrets if obj is not None else []
        return {f"{SECRET_FIELD_PREFIX}{s['name']}": secret_field(s) for s in secrets}

    def get_form(self, request, obj=None, change=False, **kwargs):
        # Django admin renders only declared fields, so the form class is made
        # per grant, with one field per secret the grant requests.
        fields = self._secret_fields(obj)
        kwargs["fields"] = list(fields)
        form = type("GrantSecretsForm", (GrantSecretsForm,), dict(fields))
        return super().get_form(request, obj, change=change, form=form, **kwargs)

    def get_fieldsets(self, request, obj=None):
        details = (None, {"fields": self.readonly_fields})
        secrets = ("Secrets (write-only)", {"fields": list(self._secret_fields(obj))})
        return [details, secrets] if secrets[1]["fields"] else [details]

    @admin.display(description="stored secrets")
    def secret_rotations(self, obj: IntegrationGrant) -> str:
        """List each stored secret's name and when its value last changed."""
        stored = obj.secrets.order_by("name")
        if not stored:
            return "none"
        return "; ".join(
            f"{secret.name} (last rotated {secret.updated_at:%Y-%m-%d %H:%M} UTC)"
            for secret in stored
        )

    @admin.display(description="domain")
    def domain_scope(self, obj: IntegrationGrant) -> str:
        return describe_domain(obj.domain)

    @admin.display(description="needs setup", boolean=True)
    def needs_setup(self, obj: IntegrationGrant) -> bool:
        return bool(setup_reasons(obj))

    @admin.display(description="setup")
    def setup_state(self, obj: IntegrationGrant) -> str:
        reasons = setup_reasons(obj)
        return "; ".join(reasons) if reasons else "configured"

    def has_delete_permission(self, request, obj=None) -> bool:
        # Owners and admins of the grant's workspace hold integrations:manage.
        return self._governs(request, obj)

    def _actor_and_source(self, request, grant) -> tuple[Actor, Source]:
        role = role_in(user=request.user, workspace=grant.workspace)
        return (
            Actor.for_user(request.user, role or ""),
            Source.from_request(request, trust="admin_session"),
        )

    def save_model(self, request, obj, form, change) -> None:
        values = form.secret_values()
        if not values:
            return
        actor, source = self._actor_and_source(request, obj)
        try:
            grant_configure_secrets(
                grant=obj, secrets=values, user=request.user, actor=actor, source=source
            )
        except ApiError as error:
            messages.error(request, f"Secrets not saved: {error.detail}")

    def _run_per_grant(self, request, queryset, service, verb: str) -> None:
        """Call `service` once per selected grant and report what was done."""
        done, skipped = 0, []
        for grant in queryset.select_related("workspace"):
            actor, source = self._actor_and_source(request, grant)
            try:
                service(grant=grant, actor=actor, source=source)
            except ApiError as error:
                skipped.append(f"{grant.name} ({grant.domain}): {error.code}")
                continue
            done += 1
        messages.success(request, f"{verb} {done} grant(s).")
        if skipped:
            messages.warning(
                request, f"Skipped {len(skipped)}: " + "; ".join(skipped) + "."
            )

    @admin.action(description="Reset the selected grants' secrets")
    def reset_secrets(self, request, queryset) -> None:
        self._run_per_grant(request, queryset, grant_reset, "Reset")

    def delete_model(self, request, obj) -> None:
        self._run_per_grant(
            request, IntegrationGrant.objects.filter(pk=obj.pk), grant_delete, "Deleted"
        )

    def delete_queryset(self, request, queryset) -> None:
        # Each grant goes through the service, which deletes its stored
        # secrets first and writes the audit event; never a bulk delete.
        self._run_per_grant(request, queryset, grant_delete, "Deleted")


class ProviderConfigForm(forms.ModelForm):
    """The OAuth app form: the client secret field writes and never shows."""

    authorization_url = forms.URLField(max_length=2000, assume_scheme="https")
    token_url = forms.URLField(max_length=2000, assume_scheme="https")
    revocation_url = forms.URLField(
        max_length=2000, assume_scheme="https", required=False
    )
    userinfo_url = forms.URLField(
        max_length=2000, assume_scheme="https", required=False
    )
    client_secret_value = forms.CharField(
        label="Client secret",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the stored secret.",
    )

    class Meta:
        model = OAuthProviderConfig
        fields = [
            "name",
            "client_id",
            "token_auth_method",
            "authorization_url",
            "token_url",
            "revocation_url",
            "userinfo_url",
        ]

    def clean(self):
        """Check each URL as the service does, so a bad one shows on its field.

        A rejected URL is not shown again, since it may carry a credential.
        """
        cleaned = super().clean()
        for field in URL_FIELDS:
            value = cleaned.get(field)
            problem = provider_url_problem(value) if value else None
            if problem:
                self.add_error(field, problem)
                self.data = self.data.copy()
                self.data[self.add_prefix(field)] = ""
        return cleaned


@admin.register(OAuthProviderConfig)
class OAuthProviderConfigAdmin(WorkspaceScopedAdmin):
    diff_scope = "config"
    form = ProviderConfigForm
    list_display = (
        "provider_key",
        "workspace",
        "configured",
        "client_secret_rotated_at",
    )
    search_fields = ("provider_key", "name")
    readonly_fields = (
        "workspace",
        "provider_key",
        "redirect_uri",
        "client_secret_state",
    )

    def get_fields(self, request, obj=None):
        return [
            *self.readonly_fields,
            *ProviderConfigForm.Meta.fields,
            "client_secret_value",
        ]

    @admin.display(description="configured", boolean=True)
    def configured(self, obj: OAuthProviderConfig) -> bool:
        return config_is_complete(obj)

    @admin.display(description="redirect URI (register it at the provider)")
    def redirect_uri(self, obj: OAuthProviderConfig) -> str:
        return redirect_uri()

    @admin.display(description="client secret")
    def client_secret_state(self, obj: OAuthProviderConfig) -> str:
        if obj.client_secret_id is None:
            return "not set"
        rotated = obj.client_secret_rotated_at
        return f"set, last rotated {rotated:%Y-%m-%d %H:%M} UTC" if rotated else "set"

    def save_model(self, request, obj, form, change) -> None:
        changes = {
            field: form.cleaned_data[field]
            for field in form.changed_data
            if field in ProviderConfigForm.Meta.fields
        }
        secret = form.cleaned_data.get("client_secret_value") or None
        role = role_in(user=request.user, workspace=obj.workspace)
        stored = OAuthProviderConfig.objects.get(pk=obj.pk)
        try:
            config_configure(
                config=stored,
                changes=changes,
                client_secret=secret,
                user=request.user,
                actor=Actor.for_user(request.user, role or ""),
                source=Source.from_request(request, trust="admin_session"),
            )
        except ApiError as error:
            messages.error(request, f"Not saved: {error.detail}")
