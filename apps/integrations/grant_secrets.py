"""The secrets of a static grant: configure, rotate, reset, delete and read.

Values go to the secret store and come back only for the call that injects
them. Store calls never run inside a database transaction: WorkOS Vault is a
network call, and a lock held across it would stall every other writer.
"""

import logging
import re

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit.services import Actor, AuditEntry, Source, Target, audit_record
from apps.core.errors import ApiError, ValidationFailed
from apps.integrations.contracts import required_secret_names
from apps.integrations.models import GrantSecret, IntegrationGrant
from apps.secret_store.store import SecretConflict, SecretUnavailable, secret_store

logger = logging.getLogger(__name__)

SECRET_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,99}$")
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
MAX_SECRET_BYTES = 16 * 1024


def store_unavailable(grant: IntegrationGrant, error: SecretUnavailable) -> ApiError:
    logger.warning(
        "secret store unavailable: grant=%s secret=%s", grant.pk, error.secret_id
    )
    return ApiError(
        "secret_store_unavailable",
        "The secret store is unavailable, so nothing more was changed; retry later.",
        status_code=503,
        extra={"retryable": True},
    )


def _conflict(grant: IntegrationGrant, name: str) -> ApiError:
    logger.info("secret write conflict: grant=%s", grant.pk)
    return ApiError(
        "secret_conflict",
        f"Secret {name} was changed by someone else while you edited it; reload "
        "the grant and send it again.",
        status_code=409,
    )


def _target(grant: IntegrationGrant) -> Target:
    return Target(
        type="integration", id=str(grant.pk), name=grant.name, parent=str(grant.app_id)
    )


def _value_problem(value) -> str | None:
    if isinstance(value, str) and CONTROL_CHARACTER.search(value):
        return (
            "The secret contains a control character or line break; paste it again "
            "without them."
        )
    if not isinstance(value, str) or not value.strip():
        return "Send the secret as a non-empty string."
    if len(value.encode()) > MAX_SECRET_BYTES:
        return "The secret is longer than 16 KiB."
    return None


def _check_secret_input(grant: IntegrationGrant, secrets) -> dict[str, str]:
    if not isinstance(secrets, dict) or not secrets:
        raise ValidationFailed({"secrets": ["Send an object of secret name to value."]})

    fields: dict[str, list[str]] = {}
    requested = {secret["name"] for secret in grant.requested_secrets}
    for name, value in secrets.items():
        if not SECRET_NAME.match(str(name)):
            problem = "Secret names are upper case letters, digits and underscores."
        elif name not in requested:
            problem = (
                "The grant does not request this secret; send one of "
                f"{', '.join(sorted(requested)) or '(none)'}."
            )
        else:
            problem = _value_problem(value)
        if problem:
            fields[f"secrets.{name}"] = [problem]

    stored = set(grant.secrets.values_list("name", flat=True))
    for name in required_secret_names(grant):
        if name not in secrets and name not in stored:
            fields[f"secrets.{name}"] = ["This required secret is missing."]
    if fields:
        raise ValidationFailed(fields)
    return {str(name): value for name, value in secrets.items()}


def _check_configurable(grant: IntegrationGrant) -> None:
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


def _store_secret(grant: IntegrationGrant, name: str, value: str, user) -> None:
    store = secret_store()
    current = (
        GrantSecret.objects.select_related("stored_secret")
        .filter(grant=grant, name=name)
        .first()
    )
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
    try:
        GrantSecret.objects.create(
            grant=grant, name=name, stored_secret=stored, updated_by=user
        )
    except IntegrityError:
        # Another admin stored this name first, so the value just written is deleted.
        store.delete(stored)
        raise


def grant_configure_secrets(
    *, grant: IntegrationGrant, secrets, user, actor: Actor, source: Source
) -> IntegrationGrant:
    """Store or replace the grant's secrets and mark what it requests as configured.

    Raises ValidationFailed for bad names or values or a missing required
    secret, ApiError `integration_orphaned` for an orphaned grant,
    `secret_conflict` when another admin replaced a value meanwhile, and
    `secret_store_unavailable` when the store cannot write.
    """
    _check_configurable(grant)
    values = _check_secret_input(grant, secrets)

    for name, value in values.items():
        try:
            _store_secret(grant, name, value, user)
        except SecretConflict as error:
            raise _conflict(grant, name) from error
        except SecretUnavailable as error:
            raise store_unavailable(grant, error) from error

    with transaction.atomic():
        grant = IntegrationGrant.objects.select_for_update().get(pk=grant.pk)
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
            target=_target(grant),
            metadata={"names": sorted(values)},
        ),
    )
    logger.info("grant secrets configured: grant=%s count=%s", grant.pk, len(values))
    return IntegrationGrant.objects.prefetch_related("secrets").get(pk=grant.pk)


def _unconfigure(grant: IntegrationGrant) -> IntegrationGrant:
    """Mark the grant as not configured, so it powers no call from here on."""
    with transaction.atomic():
        grant = IntegrationGrant.objects.select_for_update().get(pk=grant.pk)
        grant.configured_groups = []
        grant.configured_secret_names = []
        grant.configured_at = None
        grant.configured_by = None
        grant.save()
    return grant


def _delete_secrets(grant: IntegrationGrant) -> list[str]:
    """Delete every stored secret of the grant and return the names deleted.

    Deleting the stored secret deletes its GrantSecret row with it. A store
    failure stops here, and the grant keeps the secrets not yet deleted.
    """
    store = secret_store()
    deleted = []
    for grant_secret in grant.secrets.select_related("stored_secret").order_by("name"):
        try:
            store.delete(grant_secret.stored_secret)
        except SecretUnavailable as error:
            raise store_unavailable(grant, error) from error
        deleted.append(grant_secret.name)
    return deleted


def grant_reset(
    *, grant: IntegrationGrant, actor: Actor, source: Source
) -> IntegrationGrant:
    """Delete the grant's secrets and mark it as needing setup again.

    The grant stops powering calls before any secret is deleted. When the
    store fails midway, ApiError `secret_store_unavailable` is raised and a
    retry deletes the rest.
    """
    grant = _unconfigure(grant)
    deleted = _delete_secrets(grant)

    audit_record(
        workspace=grant.workspace,
        entry=AuditEntry(
            event_name="integration.reset",
            outcome="success",
            summary=f"{actor.display} reset {grant.name} ({grant.domain}) and "
            f"deleted {len(deleted)} secret(s)",
            actor=actor,
            source=source,
            target=_target(grant),
            metadata={"names": deleted, "status": grant.status},
        ),
    )
    logger.info("grant reset: grant=%s secrets=%s", grant.pk, len(deleted))
    return IntegrationGrant.objects.prefetch_related("secrets").get(pk=grant.pk)


def grant_delete(*, grant: IntegrationGrant, actor: Actor, source: Source) -> None:
    """Delete the grant's secrets, then the grant.

    An app that still lists the grant gets it back, unconfigured, at its next
    setup sync. When the store fails midway, the grant stays, needing setup,
    with the secrets not yet deleted.
    """
    grant = _unconfigure(grant)
    deleted = _delete_secrets(grant)
    grant_id, workspace, target = grant.pk, grant.workspace, _target(grant)
    grant.delete()

    audit_record(
        workspace=workspace,
        entry=AuditEntry(
            event_name="integration.deleted",
            outcome="success",
            summary=f"{actor.display} deleted {target.name} ({grant.domain}) and "
            f"{len(deleted)} secret(s)",
            actor=actor,
            source=source,
            target=target,
            metadata={"names": deleted, "status": grant.status},
        ),
    )
    logger.info("grant deleted: grant=%s secrets=%s", grant_id, len(deleted))


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
