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


class GrantSecretsForm(forms.ModelForm):
    """One password field per requested secret; stored values are never shown."""

    class Meta:
        model = IntegrationGrant
        fields = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for secret in self.instance.requested_secrets:
            self.fields[f"secret__{secret['name']}"] = forms.CharField(
                label=secret.get("label") or secret["name"],
                help_text=f"{secret['name']}: {secret.get('description', '')} "
                "Leave empty to keep the stored value.",
                required=False,
                strip=False,
                widget=forms.PasswordInput(render_value=False),
            )

    def secret_values(self) -> dict[str, str]:
        return {
            name.removeprefix("secret__"): value
            for name, value in self.cleaned_data.items()
            if name.startswith("secret__") and value
        }


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
