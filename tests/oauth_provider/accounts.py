"""The users and client applications the test provider registers at start.

This module imports nothing from Django, so the pytest process (on the
product's settings) and the provider process (on its own) share it.
"""

from dataclasses import dataclass

DEFAULT_HOST_NAME = "auth.provider.example"
DEFAULT_REDIRECT_URI = "http://testserver/api/oauth/callback"

# Environment variables read by settings.py and serve.py.
ENV_STATE_DIR = "OAUTH_PROVIDER_STATE_DIR"
ENV_HOST_NAME = "OAUTH_PROVIDER_HOST_NAME"
ENV_ACCESS_TOKEN_SECONDS = "OAUTH_PROVIDER_ACCESS_TOKEN_SECONDS"
ENV_TEST_TOKEN = "OAUTH_PROVIDER_TEST_TOKEN"
ENV_REDIRECT_URIS = "OAUTH_PROVIDER_REDIRECT_URIS"


@dataclass(frozen=True)
class ProviderUser:
    """A resource owner who can log in at the provider."""

    username: str
    password: str
    email: str
    first_name: str
    last_name: str


@dataclass(frozen=True)
class ProviderClient:
    """A confidential client registered for the authorization-code grant."""

    name: str
    client_id: str
    client_secret: str


USERS = (
    ProviderUser(
        "alice", "alice-provider-pass-1", "alice@provider.example", "Alice", "Archer"
    ),
    ProviderUser("bob", "bob-provider-pass-1", "bob@provider.example", "Bob", "Baker"),
)

# "connect" stands for the product's per-user account connections and "sso"
# for its single sign-on; both accept client_secret_post and client_secret_basic.
CLIENTS = (
    ProviderClient(
        "connect", "second-connect-client", "connect-secret-0123456789abcdef"
    ),
    ProviderClient("sso", "second-sso-client", "sso-secret-0123456789abcdef"),
)
