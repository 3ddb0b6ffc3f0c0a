"""The grant's admin page: its contract and a write-only form for its secrets."""

from django import forms
from django.contrib import admin, messages

from apps.agents.domains import describe_domain
from apps.audit.services import Actor, Source
from apps.core.errors import ApiError
from apps.integrations.contracts import setup_reasons
from apps.integrations.models import IntegrationGrant
from apps.integrations.services import grant_configure_secrets
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
    form = GrantSecretsForm
    list_display = ("name", "domain", "key_slug", "app", "status", "needs_setup")
    list_filter = ("status", "auth_type")
    search_fields = ("name", "domain")
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
        "configured_secret_names",
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

    def save_model(self, request, obj, form, change) -> None:
        values = form.secret_values()
        if not values:
            return
        role = role_in(user=request.user, workspace=obj.workspace)
        try:
            grant_configure_secrets(
                grant=obj,
                secrets=values,
                user=request.user,
                actor=Actor.for_user(request.user, role or ""),
                source=Source.from_request(request, trust="admin_session"),
            )
        except ApiError as error:
            messages.error(request, f"Secrets not saved: {error.detail}")
