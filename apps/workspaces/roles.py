"""The fixed role and permission matrix, used by the API, the admin and services."""

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


MEMBER_PERMISSIONS = frozenset(
    {
        "workspace:view",
        "members:view",
        "integrations:view",
        "apps:create",
        "apps:update",
        "apps:delete",
        "agents:run",
    }
)
ADMIN_PERMISSIONS = MEMBER_PERMISSIONS | {
    "workspace:manage",
    "members:invite",
    "members:manage",
    "integrations:manage",
    "audit:read",
}
OWNER_PERMISSIONS = ADMIN_PERMISSIONS | {"members:manage-owner"}

PERMISSIONS_BY_ROLE: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(OWNER_PERMISSIONS),
    Role.ADMIN: frozenset(ADMIN_PERMISSIONS),
    Role.MEMBER: MEMBER_PERMISSIONS,
}

# Roles that govern: review, publish, approve live, and use Django admin.
GOVERNING_ROLES = frozenset({Role.OWNER, Role.ADMIN})


def role_has_permission(role: str, permission: str) -> bool:
    return permission in PERMISSIONS_BY_ROLE.get(role, frozenset())


def role_governs(role: str) -> bool:
    return role in GOVERNING_ROLES
