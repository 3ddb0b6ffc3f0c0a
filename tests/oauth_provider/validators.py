"""The provider's OAuth2 validator: the toolkit's, with standard OIDC claims."""

from oauth2_provider.oauth2_validators import OAuth2Validator

UNVERIFIED_GROUP = "email-unverified"


class ClaimsValidator(OAuth2Validator):
    """An OAuth2 validator that adds name and email claims to ID tokens and userinfo.

    The toolkit releases each claim only with the scope that
    `oidc_claim_scope` names for it: `profile` for the names, `email` for the
    email address.
    """

    # The toolkit releases only claims this map names; groups come with profile.
    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "groups": "profile"}

    def get_additional_claims(self):
        """Return the claim names with functions that read them from a request."""
        return {
            "preferred_username": lambda request: request.user.get_username(),
            "name": lambda request: request.user.get_full_name(),
            "given_name": lambda request: request.user.first_name,
            "family_name": lambda request: request.user.last_name,
            "email": lambda request: request.user.email,
            "email_verified": lambda request: (
                bool(request.user.email)
                and not request.user.groups.filter(name=UNVERIFIED_GROUP).exists()
            ),
            "groups": lambda request: sorted(
                name
                for name in request.user.groups.values_list("name", flat=True)
                if name != UNVERIFIED_GROUP
            ),
        }
