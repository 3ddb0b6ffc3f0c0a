"""OAuth provider configs: shells from the setup sync, completed by an admin."""

import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from apps.agents.credentials import URL_MESSAGE, url_carries_credential
from apps.audit.services import Actor, AuditEntry, Source, Target, audit_record
from apps.core.errors import ApiError, ValidationFailed
from apps.integrations.models import OAuthProviderConfig
from apps.secret_store.store import SecretUnavailable, secret_store

logger = logging.getLogger(__name__)

URL_FIELDS = ("authorization_url", "token_url", "revocation_url", "userinfo_url")
MAX_CLIENT_SECRET_BYTES = 4096


def redirect_uri() -> str:
    """Return the callback URL exactly as it is sent to providers."""
    return settings.SECOND_PUBLIC_URL.rstrip("/") + "/api/oauth/callback"


def start_url(config: OAuthProviderConfig) -> str:
    """Return the path that starts connecting an account at this provider."""
    ids = {"workspace_id": config.workspace_id, "config_id": config.pk}
    return reverse("oauth-start", kwargs=ids)


def config_is_complete(config: OAuthProviderConfig | None) -> bool:
    if config is None or not config.client_id or config.configured_at is None:
        return False
    if config.token_auth_method == OAuthProviderConfig.TokenAuthMethod.NONE:
        return True
    return config.client_secret_id is not None


def config_for(*, workspace_id, provider_key: str) -> OAuthProviderConfig | None:
    return OAuthProviderConfig.objects.filter(
        workspace_id=workspace_id, provider_key=provider_key
    ).first()


def config_shells_sync(*, app, auths: list[dict]) -> list[OAuthProviderConfig]:
    """Create a shell config per new providerKey from the builder's OAuth metadata.

    An existing config is left as it is: what an admin completed is never
    overwritten by a builder's file.
    """
    configs = []
    for auth in auths:
        key = str(auth.get("providerKey") or "").strip()
        if not key:
            continue
        config, created = OAuthProviderConfig.objects.get_or_create(
            workspace_id=app.workspace_id,
            provider_key=key[:100],
            defaults={
                "name": key[:120],
                "authorization_url": str(auth.get("authorizationUrl", ""))[:2000],
                "token_url": str(auth.get("tokenUrl", ""))[:2000],
                "token_auth_method": auth.get("tokenAuthMethod")
                or OAuthProviderConfig.TokenAuthMethod.CLIENT_SECRET_POST,
                "authorization_params": auth.get("authorizationParams") or {},
                "token_params": auth.get("tokenParams") or {},
            },
        )
        if created:
            logger.info("oauth config shell created: config=%s", config.pk)
        configs.append(config)
    return configs


def provider_url_problem(value: str) -> str | None:
    """Return why a provider URL is unusable; addresses are checked per request."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return "The URL is invalid."
    allowed = ("https", "http") if settings.SECOND_LOCAL_MODE else ("https",)
    if parts.scheme not in allowed or not parts.hostname:
        return "Use an https URL with a host name."
    if parts.username or parts.password:
        return "The URL must not contain a user name or password."

    # A credential in a URL would be stored and shown as plain text: in the
    # config, its diffs and its admin pages. The write-only field keeps it.
    if url_carries_credential(value):
        return URL_MESSAGE
    return None


def _url_problems(changes: dict) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for field in URL_FIELDS:
        value = changes.get(field)
        problem = provider_url_problem(value) if value else None
        if problem:
            fields[field] = [problem]
    return fields


def config_configure(
    *,
    config: OAuthProviderConfig,
    changes: dict,
    client_secret: str | None,
    user,
    actor: Actor,
    source: Source,
) -> OAuthProviderConfig:
    """Set the client id, token auth method and URLs, and store a new client secret.

    `client_secret` None keeps the stored one. Raises ValidationFailed naming
    each bad field and ApiError `secret_store_unavailable` when the store fails.
    """
    problems = _url_problems(changes)
    if client_secret is not None and (
        not client_secret.strip()
        or len(client_secret.encode()) > MAX_CLIENT_SECRET_BYTES
    ):
        problems["clientSecret"] = ["Send the client secret as a non-empty string."]
    if problems:
        raise ValidationFailed(problems)

    rotated = client_secret is not None and _store_client_secret(config, client_secret)
    with transaction.atomic():
        config = OAuthProviderConfig.objects.select_for_update().get(pk=config.pk)
        for field, value in changes.items():
            setattr(config, field, value)
        config.configured_at = timezone.now()
        config.configured_by = user
        config.save()

    _audit(config, "oauth.provider_configured", actor, source, sorted(changes))
    if rotated:
        _audit(config, "oauth.provider_secret_rotated", actor, source, [])
    logger.info("oauth config configured: config=%s", config.pk)
    return config


def _store_client_secret(config: OAuthProviderConfig, value: str) -> bool:
    store = secret_store()
    try:
        if config.client_secret_id is not None:
            store.rotate(config.client_secret, value=value)
        else:
            stored = store.put(
                workspace_id=config.workspace_id,
                purpose=f"oauth-client:{config.pk}",
                value=value,
            )
            OAuthProviderConfig.objects.filter(pk=config.pk).update(
                client_secret=stored
            )
            config.client_secret = stored
    except SecretUnavailable as error:
        logger.warning("oauth client secret not stored: config=%s", config.pk)
        raise ApiError(
            "secret_store_unavailable",
            "The secret store is unavailable, so nothing was changed; retry later.",
            status_code=503,
            extra={"retryable": True},
        ) from error
    config.client_secret_rotated_at = timezone.now()
    config.save(update_fields=["client_secret_rotated_at", "updated_at"])
    return True


def client_secret_read(config: OAuthProviderConfig) -> str | None:
    """Read the client secret for one request; raises SecretUnavailable."""
    if config.client_secret_id is None:
        return None
    return secret_store().read(config.client_secret)


def _audit(config, event_name: str, actor: Actor, source: Source, fields) -> None:
    audit_record(
        workspace=config.workspace,
        entry=AuditEntry(
            event_name=event_name,
            outcome="success",
            summary=f"{actor.display} configured the OAuth app {config.provider_key}",
            actor=actor,
            source=source,
            target=Target(
                type="oauth_provider", id=str(config.pk), name=config.provider_key
            ),
            # The key does not say "token", which the sanitiser would redact.
            metadata={"fields": fields, "clientAuthMethod": config.token_auth_method},
        ),
    )
