"""The access contract of a grant and whether it needs setup."""

import hashlib
import json
import re

from apps.integrations.models import IntegrationGrant

_DELETE_ADMIN = re.compile(r"delete|admin|manage|destroy|remove", re.IGNORECASE)
_WRITE = re.compile(r"write|create|update|edit|post|send|modify|push", re.IGNORECASE)
_READ = re.compile(r"read|view|list|get|search|lookup", re.IGNORECASE)


def _access_level(permissions: list[str]) -> str:
    if any(_DELETE_ADMIN.search(item) for item in permissions):
        return "delete_admin"
    if any(_WRITE.search(item) for item in permissions):
        return "write"
    if any(_READ.search(item) for item in permissions):
        return "read"
    return "unknown"


def access_contract(*, permission_groups: list[dict], secrets: list[dict]) -> dict:
    """Build the contract: sorted `group:permission` pairs, upper-case secret
    names, the inferred access level and a fingerprint over them."""
    pairs = sorted(
        {
            f"{group['name']}:{permission}"
            for group in permission_groups
            for permission in group.get("permissions", [])
        }
    )
    secret_names = sorted({secret["name"].upper() for secret in secrets})
    level = _access_level([pair.split(":", 1)[1] for pair in pairs])
    canonical = json.dumps(
        {"pairs": pairs, "secrets": secret_names, "level": level},
        sort_keys=True,
        separators=(",", ":"),
    )
    return {
        "permissions": pairs,
        "secretNames": secret_names,
        "accessLevel": level,
        "fingerprint": hashlib.sha256(canonical.encode()).hexdigest()[:32],
    }


def required_secret_names(grant: IntegrationGrant) -> list[str]:
    return sorted(
        secret["name"].upper()
        for secret in grant.requested_secrets
        if secret.get("required", True)
    )


def setup_reasons(grant: IntegrationGrant) -> list[str]:
    """Return why the grant needs setup; an empty list means it is set up."""
    if grant.status == IntegrationGrant.Status.ORPHANED:
        return ["orphaned: the app's integration-setup.json no longer lists it"]
    if grant.auth_type == IntegrationGrant.AuthType.OAUTH2:
        from apps.integrations.oauth_configs import config_for, config_is_complete

        config = config_for(
            workspace_id=grant.workspace_id,
            provider_key=str(grant.auth.get("providerKey", "")),
        )
        return (
            []
            if config_is_complete(config)
            else ["the OAuth provider is not configured"]
        )
    if grant.configured_at is None:
        return ["not configured"]
    reasons = []
    configured_groups = set(grant.configured_groups)
    for group in grant.permission_groups:
        if group["name"] not in configured_groups:
            reasons.append(f"permission group {group['name']!r} is not configured")
    configured_secrets = set(grant.configured_secret_names)
    for name in required_secret_names(grant):
        if name not in configured_secrets:
            reasons.append(f"required secret {name} is not configured")
    return reasons


def grant_needs_setup(grant: IntegrationGrant) -> bool:
    return bool(setup_reasons(grant))
