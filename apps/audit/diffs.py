"""Model diffs of the governed models, kept by django-auditlog.

Diffs complement audit events: an event records what an owner did, a diff
records which columns of which row changed. Fields that contain token material,
references to stored secrets or snapshot contents are excluded entirely, so a
diff never contains their value, a masked form of it or the fact that it
changed. `secret_fields` finds the first two kinds on every governed model, so
a registration lists only the other exclusions.
Users and personal API tokens are not registered: they belong to no workspace,
so no workspace-scoped page could show their diffs.

Every diff stores its workspace, and the app, grant or OAuth config it belongs
to, in `additional_data`, so an admin page can list the diffs of one object and
of its parts, deleted ones included, without reading another workspace's rows.
"""

from dataclasses import dataclass, field

from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.apps import apps

# Columns that hold token material under these names: a token's hash, or the
# prefix by which it is looked up.
TOKEN_FIELDS = ("token_hash", "token_prefix", "password")
SECRET_MODEL = "secret_store.StoredSecret"


@dataclass(frozen=True)
class Governed:
    """One registration: the model, what its diffs leave out and where it lives.

    `workspace` and `parents` are attribute paths from an instance, joined with
    "__", to its workspace id and to the ids of the objects it belongs to.
    """

    model: str
    exclude: tuple[str, ...] = ()
    m2m: tuple[str, ...] = ()
    workspace: str = "workspace_id"
    parents: dict[str, str] = field(default_factory=dict)


GOVERNED = (
    Governed("workspaces.Workspace", workspace="pk"),
    Governed("workspaces.Membership"),
    Governed("workspaces.Team"),
    Governed("workspaces.TeamMembership", workspace="team__workspace_id"),
    Governed("workspaces.Invitation", m2m=("teams",)),
    Governed(
        "applications.App",
        exclude=("updated_at",),
        m2m=("teams", "collaborators"),
        parents={"app": "pk"},
    ),
    # The files are the snapshot's contents; their hash stays, so a diff still
    # shows that the contents changed and to what approved version.
    Governed(
        "applications.AppSnapshot",
        exclude=("files", "updated_at"),
        workspace="app__workspace_id",
        parents={"app": "app_id"},
    ),
    Governed("applications.Review", m2m=("teams",), parents={"app": "app_id"}),
    # The payload is the approved agents.json itself, a snapshot's contents.
    Governed("agents.AgentsApproval", exclude=("payload",), parents={"app": "app_id"}),
    Governed(
        "integrations.IntegrationGrant",
        exclude=("updated_at",),
        parents={"app": "app_id", "grant": "pk"},
    ),
    Governed(
        "integrations.GrantSecret",
        exclude=("updated_at",),
        workspace="grant__workspace_id",
        parents={"grant": "grant_id"},
    ),
    Governed(
        "integrations.OAuthProviderConfig",
        exclude=("updated_at",),
        parents={"config": "pk"},
    ),
    Governed(
        "integrations.ConnectedAccount",
        exclude=("updated_at",),
        parents={"config": "config_id"},
    ),
)


def _follow(instance, path: str):
    value = instance
    for part in path.split("__"):
        value = getattr(value, part)
    return value


def _scope_of(governed: Governed):
    def get_additional_data(instance) -> dict:
        scope = {"workspace": str(_follow(instance, governed.workspace))}
        for name, path in governed.parents.items():
            scope[name] = str(_follow(instance, path))
        return scope

    return get_additional_data


def secret_fields(model) -> set[str]:
    """Return the model's fields that reference a stored secret or contain token
    material. Registration excludes them from diffs on every governed model."""
    secret_model = apps.get_model(SECRET_MODEL)
    return {
        field.name
        for field in model._meta.get_fields()
        if field.concrete
        and (field.related_model is secret_model or field.name in TOKEN_FIELDS)
    }


def excluded_fields(model, governed: Governed) -> list[str]:
    return sorted(set(governed.exclude) | secret_fields(model))


def governed_models() -> dict:
    """Return each governed model class with its registration."""
    return {apps.get_model(governed.model): governed for governed in GOVERNED}


def register_governed_models() -> None:
    """Register every governed model with django-auditlog; run once at start-up.

    django-auditlog reads a diff's `additional_data` from the instance's
    `get_additional_data` method, so each model gets one that returns its scope.
    """
    for model, governed in governed_models().items():
        model.get_additional_data = _scope_of(governed)
        auditlog.register(
            model,
            exclude_fields=excluded_fields(model, governed),
            m2m_fields=set(governed.m2m),
        )


def diffs_within(*, workspace_id, **parents):
    """Return the diffs recorded in the workspace, of the parts of `parents`."""
    scope = {"additional_data__workspace": str(workspace_id)}
    scope.update(
        {f"additional_data__{name}": str(value) for name, value in parents.items()}
    )
    return LogEntry.objects.filter(**scope)
