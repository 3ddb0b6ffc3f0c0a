"""External mode against the loopback OIDC provider: settings and a sign-in flow."""

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

CALLBACK = "http://testserver/oidc/callback/"


@dataclass
class Login:
    """The product configured for the provider's `sso` client, and a sign-in."""

    provider: object

    def start(self, client: Client, next_path: str = "/admin/") -> str:
        response = client.get(f"/oidc/authenticate/?next={next_path}")
        assert response.status_code == 302, response.content
        return response["Location"]

    def finish(self, client: Client, redirect: str):
        parts = urlsplit(redirect)
        return client.get(f"{parts.path}?{parts.query}")

    def sign_in(self, username: str = "alice", client: Client | None = None):
        client = client or Client()
        redirect = self.provider.authorize(self.start(client), username=username)
        response = self.finish(client, redirect)
        return client, response

    @staticmethod
    def query(url: str) -> dict:
        return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


@pytest.fixture
def oidc(settings, oauth_provider, oauth_routes, world) -> Login:
    client = oauth_provider.clients["sso"]
    oauth_provider.add_redirect_uri(CALLBACK, client="sso")
    settings.SECOND_AUTH_MODE = "external"
    settings.AUTHENTICATION_BACKENDS = ["apps.accounts.oidc.ProviderBackend"]
    settings.OIDC_OP_ISSUER = oauth_provider.issuer
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = oauth_provider.authorization_url
    settings.OIDC_OP_TOKEN_ENDPOINT = oauth_provider.token_url
    settings.OIDC_OP_USER_ENDPOINT = oauth_provider.userinfo_url
    settings.OIDC_OP_JWKS_ENDPOINT = oauth_provider.jwks_url
    settings.OIDC_RP_CLIENT_ID = client.client_id
    settings.OIDC_RP_CLIENT_SECRET = client.client_secret
    settings.OIDC_RP_SCOPES = "openid email profile"
    settings.SECOND_OIDC_ROLE_MAP = {
        "acme-admins": [{"workspace": "acme", "role": "admin"}],
        "acme-members": [{"workspace": "acme", "role": "member"}],
    }
    for username in ("alice", "bob"):
        user = oauth_provider.users[username]
        oauth_provider.set_user(
            username, groups=[], email=user.email, email_verified=True, is_active=True
        )
    return Login(oauth_provider)
