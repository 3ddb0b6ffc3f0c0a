from apps.agents.domains import describe_domain
from apps.integrations.contracts import setup_reasons
from apps.integrations.models import IntegrationGrant


def grant_body(grant: IntegrationGrant) -> dict:
    """Return the read model of a grant, with secret names but no values or ids."""
    rotated = {secret.name: secret.updated_at for secret in grant.secrets.all()}
    stored = sorted(rotated)
    reasons = setup_reasons(grant)
    return {
        "id": str(grant.pk),
        "appId": str(grant.app_id),
        "name": grant.name,
        "domain": grant.domain,
        "domainScope": describe_domain(grant.domain),
        "keySlug": grant.key_slug,
        "keyName": grant.key_name,
        "capabilityLabel": grant.capability_label,
        "why": grant.why,
        "authType": grant.auth_type,
        "status": grant.status,
        "needsSetup": bool(reasons),
        "setupReasons": reasons,
        "accessContract": grant.access_contract,
        "permissionGroups": grant.permission_groups,
        "secrets": [
            {
                "name": secret["name"],
                "label": secret.get("label", ""),
                "description": secret.get("description", ""),
                "required": secret.get("required", True),
                "configured": secret["name"] in rotated,
                "rotatedAt": rotated[secret["name"]].isoformat()
                if secret["name"] in rotated
                else None,
            }
            for secret in grant.requested_secrets
        ],
        "configuredSecretNames": stored,
        "configuredGroups": grant.configured_groups,
        "configuredAt": grant.configured_at.isoformat()
        if grant.configured_at
        else None,
        "setupInstructions": grant.setup_instructions,
        "updatedAt": grant.updated_at.isoformat(),
    }
