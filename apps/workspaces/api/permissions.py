"""DRF permission classes of the request guard."""

from rest_framework.permissions import BasePermission

from apps.accounts.authentication import IdentityRequired


class IsIdentified(BasePermission):
    """Require an authenticated, active account; answer 401 identity_required."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if user is None or not user.is_authenticated or not user.is_active:
            raise IdentityRequired()
        return True
