"""Writes of integration grants: the setup sync and an admin's secrets."""

import logging
import re

from django.db import transaction
from django.utils import timezone

from apps.agents.domains import domain_problems, normalize_domain
from apps.agents.tools import normalize_key_slug
from apps.applications.drafts import draft_write, serialise_json_file
from apps.applications.models import INTEGRATION_SETUP_FILE, App
from apps.audit.services import Actor, AuditEntry, Source, Target, audit_record
from apps.core.errors import ApiError, ValidationFailed
from apps.integrations.contracts import access_contract, required_secret_names
from apps.integrations.models import GrantSecret, IntegrationGrant
from apps.integrations.setup_schema import setup_validator
from apps.secret_store.store import secret_store

logger = logging.getLogger(__name__)

SECRET_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,99}$")
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
MAX_SECRET_BYTES = 16 * 1024


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
        grants, orphaned = _upsert_grants(app, setup_config)

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


def _check_secret_input(grant: IntegrationGrant, secrets) -> dict[str, str]:
    if not isinstance(secrets, dict) or not secrets:
        raise ValidationFailed({"secrets": ["Send an object of secret name to value."]})
    fields: dict[str, list[str]] = {}
    requested = {secret["name"] for secret in grant.requested_secrets}
    for name, value in secrets.items():
        if not SECRET_NAME.match(str(name)):
            fields[f"secrets.{name}"] = [
                "Secret names are upper case letters, digits and underscores."
            ]
        elif name not in requested:
            fields[f"secrets.{name}"] = [
                "The grant does not request this secret; send one of "
                f"{', '.join(sorted(requested)) or '(none)'}."
            ]
        elif isinstance(value, str) and CONTROL_CHARACTER.search(value):
            fields[f"secrets.{name}"] = [
                "The secret contains a control character or line break; paste it "
                "again without them."
            ]
        elif not isinstance(value, str) or not value.strip():
            fields[f"secrets.{name}"] = ["Send the secret as a non-empty string."]
        elif len(value.encode()) > MAX_SECRET_BYTES:
            fields[f"secrets.{name}"] = ["The secret is longer than 16 KiB."]
    stored = set(grant.secrets.values_list("name", flat=True))
    for name in required_secret_names(grant):
        if name not in secrets and name not in stored:
            fields[f"secrets.{name}"] = ["This required secret is missing."]
    if fields:
        raise ValidationFailed(fields)
    return {str(name): value for name, value in secrets.items()}


def _store_secret(grant: IntegrationGrant, name: str, value: str, user) -> None:
    store = secret_store()
    existing = GrantSecret.objects.select_related("stored_secret").filter(
        grant=grant, name=name
    )
    current = existing.first()
    if current is not None:
        store.rotate(current.stored_secret, value=value)
        current.updated_by = user
        current.save(update_fields=["updated_by", "updated_at"])
        return
    stored = store.put(
        workspace_id=grant.workspace_id,
        purpose=f"integration-grant:{grant.pk}:{name}",
        value=value,
    )
    GrantSecret.objects.create(
        grant=grant, name=name, stored_secret=stored, updated_by=user
    )


def grant_configure_secrets(
    *, grant: IntegrationGrant, secrets, user, actor: Actor, source: Source
) -> IntegrationGrant:
    """Store or replace the grant's secrets and mark what it requests as configured.

    Raises ValidationFailed for bad names or values or a missing required
    secret, and ApiError `integration_orphaned` for an orphaned grant.
    """
    if grant.status == IntegrationGrant.Status.ORPHANED:
        raise ApiError(
            "integration_orphaned",
            "This grant is orphaned: the app no longer requests it. Delete it or "
            "sync an integration-setup.json that lists it.",
            status_code=409,
        )
    if grant.auth_type != IntegrationGrant.AuthType.STATIC:
        raise ApiError(
            "integration_auth_mismatch",
            "This grant uses OAuth; configure its OAuth provider instead of secrets.",
        )
    values = _check_secret_input(grant, secrets)
    with transaction.atomic():
        for name, value in values.items():
            _store_secret(grant, name, value, user)
        grant.configured_groups = sorted(g["name"] for g in grant.permission_groups)
        grant.configured_secret_names = sorted(
            {s["name"] for s in grant.requested_secrets}
            | set(grant.secrets.values_list("name", flat=True))
        )
        grant.configured_at = timezone.now()
        grant.configured_by = user
        grant.save()

    audit_record(
        workspace=grant.workspace,
        entry=AuditEntry(
            event_name="integration.secret_rotated",
            outcome="success",
            summary=f"{actor.display} configured {len(values)} secret(s) of "
            f"{grant.name} ({grant.domain})",
            actor=actor,
            source=source,
            target=Target(
                type="integration",
                id=str(grant.pk),
                name=grant.name,
                parent=str(grant.app_id),
            ),
            metadata={"secretNames": sorted(values)},
        ),
    )
    logger.info("grant secrets configured: grant=%s count=%s", grant.pk, len(values))
    return IntegrationGrant.objects.prefetch_related("secrets").get(pk=grant.pk)


def grant_read_secrets(grant: IntegrationGrant) -> dict[str, str]:
    """Read every stored secret of the grant for one call.

    Raises SecretUnavailable when the store cannot read a value. Only the caller
    keeps the values.
    """
    store = secret_store()
    values: dict[str, str] = {}
    for grant_secret in grant.secrets.select_related("stored_secret"):
        value = store.read(grant_secret.stored_secret)
        if value is not None:
            values[grant_secret.name] = value
    return values
