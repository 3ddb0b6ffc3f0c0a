"""Writes of integration grants by the setup sync."""

import logging

from django.db import transaction

from apps.agents.credentials import oauth_auth_problems
from apps.agents.domains import domain_problems, normalize_domain
from apps.agents.tools import normalize_key_slug
from apps.applications.drafts import draft_write, serialise_json_file
from apps.applications.models import INTEGRATION_SETUP_FILE, App
from apps.audit.services import Actor, AuditEntry, Source, Target, audit_record
from apps.core.errors import ValidationFailed
from apps.integrations.contracts import access_contract
from apps.integrations.models import IntegrationGrant
from apps.integrations.setup_schema import setup_validator

logger = logging.getLogger(__name__)


def _json_path(error) -> str:
    path = "$"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _setup_problems(setup_config) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for error in setup_validator.iter_errors(setup_config):
        fields.setdefault(_json_path(error), []).append(error.message)
    if fields:
        return fields
    seen = set()
    for index, integration in enumerate(setup_config["integrations"]):
        path = f"$.integrations[{index}]"
        for message in domain_problems(integration["domain"]):
            fields.setdefault(f"{path}.domain", []).append(message)
        auth = integration.get("auth")
        for field, message in oauth_auth_problems(
            auth if isinstance(auth, dict) else {}
        ):
            fields.setdefault(f"{path}.auth.{field}", []).append(message)
        key = (
            normalize_domain(integration["domain"]),
            normalize_key_slug(integration.get("keySlug", "default")),
        )
        if key in seen:
            fields.setdefault(path, []).append(
                f"domain {key[0]} with keySlug {key[1]} is listed twice; merge them."
            )
        seen.add(key)
    return fields


def _auth_type(integration: dict) -> str:
    auth = integration.get("auth") or {}
    if auth.get("type") == "oauth2":
        return IntegrationGrant.AuthType.OAUTH2
    return IntegrationGrant.AuthType.STATIC


def _grant_fields(integration: dict) -> dict:
    groups = integration.get("permissionGroups", [])
    secrets = [
        {
            **secret,
            "name": secret["name"].upper(),
            "required": secret.get("required", True),
        }
        for secret in integration.get("secrets", [])
    ]
    return {
        "name": integration["name"],
        "key_name": integration.get("keyName", ""),
        "capability_label": integration.get("capabilityLabel", ""),
        "why": integration.get("why", ""),
        "auth_type": _auth_type(integration),
        "auth": integration.get("auth") or {},
        "permission_groups": groups,
        "requested_secrets": secrets,
        "setup_instructions": integration.get("setupInstructions") or {},
        "access_contract": access_contract(permission_groups=groups, secrets=secrets),
        "status": IntegrationGrant.Status.ACTIVE,
    }


def _upsert_grants(app: App, setup_config: dict) -> tuple[list, list]:
    listed_ids, orphaned = [], []
    for integration in setup_config["integrations"]:
        grant, _ = IntegrationGrant.objects.update_or_create(
            workspace_id=app.workspace_id,
            app=app,
            domain=normalize_domain(integration["domain"]),
            key_slug=normalize_key_slug(integration.get("keySlug", "default")),
            defaults=_grant_fields(integration),
        )
        listed_ids.append(grant.pk)
    stale = IntegrationGrant.objects.filter(app=app).exclude(pk__in=listed_ids)
    for grant in stale.exclude(status=IntegrationGrant.Status.ORPHANED):
        grant.status = IntegrationGrant.Status.ORPHANED
        grant.save(update_fields=["status", "updated_at"])
        orphaned.append(grant)
    return list(IntegrationGrant.objects.filter(pk__in=listed_ids)), orphaned


def setup_sync(
    *, app: App, setup_config, actor: Actor, source: Source
) -> list[IntegrationGrant]:
    """Store integration-setup.json in the draft and upsert the app's grants.

    Idempotent: the same file gives the same grants. A grant that the file no
    longer lists becomes `orphaned` and keeps its secrets until an admin deletes
    it. Raises ValidationFailed naming every problem by JSON path.
    """
    problems = _setup_problems(setup_config)
    if problems:
        raise ValidationFailed(problems)

    with transaction.atomic():
        draft_write(
            app=app,
            changes={INTEGRATION_SETUP_FILE: serialise_json_file(setup_config)},
            actor=actor,
            source=source,
        )
        return setup_grants_sync(
            app=app, setup_config=setup_config, actor=actor, source=source
        )


def setup_problems(setup_config) -> dict[str, list[str]]:
    """Return every problem of an integration-setup.json document by JSON path."""
    return _setup_problems(setup_config)


def setup_grants_sync(
    *, app: App, setup_config, actor: Actor, source: Source
) -> list[IntegrationGrant]:
    """Upsert the app's grants from a valid integration-setup.json in the draft.

    The caller has written the file to the draft already; `setup_sync` and the
    files route both do.
    """
    from apps.integrations.oauth_configs import config_shells_sync

    grants, orphaned = _upsert_grants(app, setup_config)
    config_shells_sync(
        app=app,
        auths=[
            integration["auth"]
            for integration in setup_config["integrations"]
            if (integration.get("auth") or {}).get("type") == "oauth2"
        ],
    )
    _audit_sync(app, grants, orphaned, actor, source)
    logger.info("setup synced: app=%s grants=%s", app.pk, len(grants))
    return grants


def _audit_sync(app, grants, orphaned, actor, source) -> None:
    audit_record(
        workspace=app.workspace,
        entry=AuditEntry(
            event_name="integration.requested",
            outcome="success",
            summary=f"{app.name} requested {len(grants)} integration(s)",
            actor=actor,
            source=source,
            target=Target(type="app", id=str(app.pk), name=app.name),
            metadata={
                "integrations": [
                    {"domain": g.domain, "keySlug": g.key_slug, "auth": g.auth_type}
                    for g in grants
                ]
            },
            related_ids={"grantIds": [str(g.pk) for g in grants]},
        ),
    )
    for grant in orphaned:
        audit_record(
            workspace=app.workspace,
            entry=AuditEntry(
                event_name="integration.orphaned",
                outcome="success",
                summary=f"{grant.name} ({grant.domain}) is no longer requested by "
                f"{app.name}; it powers no call until an admin deletes it",
                actor=actor,
                source=source,
                target=Target(
                    type="integration",
                    id=str(grant.pk),
                    name=grant.name,
                    parent=str(app.pk),
                ),
            ),
        )
