"""Self-tests of the loopback OAuth provider, from the client's side of the wire.

Every request goes over TLS to 127.0.0.1 and verifies the certificate for
auth.provider.example against the session test CA. The flows run headless:
`OAuthProvider.authorize` signs in and posts the consent form as a browser
would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from apps.execution.egress import EgressPolicy, OutboundRequest, send
from tests.oauth_provider import accounts
from tests.support.upstream import LOOPBACK

if TYPE_CHECKING:
    # Imported for annotations only: importing the plugin module before
    # pytest_plugins loads it would keep pytest from rewriting its asserts.
    from tests.support.oauth_server import OAuthProvider


REDIRECT_URI = accounts.DEFAULT_REDIRECT_URI
SCOPE = "openid profile email calendar.read"


def pkce_pair() -> tuple[str, str]:
    """Return a PKCE code verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorization_request(
    provider: OAuthProvider,
    client: str = "connect",
    *,
    challenge: str | None,
    redirect_uri: str = REDIRECT_URI,
) -> str:
    """Build an authorization URL; no PKCE parameters when `challenge` is None."""
    query = {
        "response_type": "code",
        "client_id": provider.clients[client].client_id,
        "redirect_uri": redirect_uri,
        "scope": SCOPE,
        "state": "state-123",
        "nonce": "nonce-456",
    }
    if challenge is not None:
        query.update(code_challenge=challenge, code_challenge_method="S256")
    return f"{provider.authorization_url}?{urlencode(query)}"


def callback_params(location: str) -> dict[str, str]:
    """Return the query parameters of the redirect back to the client."""
    return dict(parse_qsl(urlsplit(location).query))


def token_request(
    provider: OAuthProvider, client: str, form: dict[str, str], auth: str = "post"
):
    """POST `form` to the token endpoint with client_secret_post or _basic."""
    registered = provider.clients[client]
    headers = {}
    if auth == "basic":
        pair = f"{registered.client_id}:{registered.client_secret}".encode()
        headers["Authorization"] = f"Basic {base64.b64encode(pair).decode()}"
    else:
        form = {
            **form,
            "client_id": registered.client_id,
            "client_secret": registered.client_secret,
        }
    return provider.request("POST", provider.token_url, fields=form, headers=headers)


def obtain_code(
    provider: OAuthProvider, client: str = "connect", username: str = "alice"
) -> tuple[str, str]:
    """Run the browser part of the flow; return the code and the verifier."""
    verifier, challenge = pkce_pair()
    location = provider.authorize(
        authorization_request(provider, client, challenge=challenge),
        username=username,
    )
    return callback_params(location)["code"], verifier


def exchange_code(
    provider: OAuthProvider, code: str, verifier: str, auth: str = "post"
):
    """Exchange an authorization code at the token endpoint."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    return token_request(provider, "connect", form, auth)


def refresh(provider: OAuthProvider, refresh_token: str):
    """Redeem a refresh token with client_secret_post."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return token_request(provider, "connect", form)


def userinfo(provider: OAuthProvider, access_token: str):
    """Call the userinfo endpoint with a bearer token."""
    headers = {"Authorization": f"Bearer {access_token}"}
    return provider.request("GET", provider.userinfo_url, headers=headers)


def revoke(provider: OAuthProvider, token: str, hint: str):
    """Revoke a token (RFC 7009) with client_secret_post."""
    registered = provider.clients["connect"]
    form = {
        "token": token,
        "token_type_hint": hint,
        "client_id": registered.client_id,
        "client_secret": registered.client_secret,
    }
    return provider.request("POST", provider.revocation_url, fields=form)


def jwt_claims(token: str) -> dict:
    """Return the payload of a JWT without checking its signature."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.fixture
def tokens(oauth_provider: OAuthProvider) -> dict:
    """The token response of a completed flow for alice on the connect client."""
    code, verifier = obtain_code(oauth_provider)
    return exchange_code(oauth_provider, code, verifier).json()


class TestDiscovery:
    def test_discovery_names_the_issuer(self, oauth_provider):
        response = oauth_provider.request("GET", oauth_provider.discovery_url)
        assert response.json()["issuer"] == oauth_provider.issuer

    def test_discovery_names_the_token_url(self, oauth_provider):
        response = oauth_provider.request("GET", oauth_provider.discovery_url)
        assert response.json()["token_endpoint"] == oauth_provider.token_url

    def test_discovery_offers_only_s256(self, oauth_provider):
        response = oauth_provider.request("GET", oauth_provider.discovery_url)
        assert response.json()["code_challenge_methods_supported"] == ["S256"]

    def test_jwks_serves_an_rsa_key(self, oauth_provider):
        response = oauth_provider.request("GET", oauth_provider.jwks_url)
        assert response.json()["keys"][0]["kty"] == "RSA"

    def test_egress_client_reaches_discovery(self, oauth_routes):
        provider = oauth_routes.provider
        request = OutboundRequest("GET", provider.discovery_url, headers={})
        response = send(request, policy=EgressPolicy(allowed_domain=None))
        assert json.loads(response.body)["issuer"] == provider.issuer


class TestAuthorizationCode:
    def test_consent_redirects_with_code(self, oauth_provider):
        _, challenge = pkce_pair()
        url = authorization_request(oauth_provider, challenge=challenge)
        params = callback_params(oauth_provider.authorize(url))
        assert params["code"]

    def test_consent_returns_the_state(self, oauth_provider):
        _, challenge = pkce_pair()
        url = authorization_request(oauth_provider, challenge=challenge)
        params = callback_params(oauth_provider.authorize(url))
        assert params["state"] == "state-123"

    def test_consent_returns_the_issuer(self, oauth_provider):
        _, challenge = pkce_pair()
        url = authorization_request(oauth_provider, challenge=challenge)
        params = callback_params(oauth_provider.authorize(url))
        assert params["iss"] == oauth_provider.issuer

    def test_cancel_returns_access_denied(self, oauth_provider):
        _, challenge = pkce_pair()
        url = authorization_request(oauth_provider, challenge=challenge)
        params = callback_params(oauth_provider.authorize(url, allow=False))
        assert params["error"] == "access_denied"

    def test_missing_pkce_is_rejected(self, oauth_provider):
        url = authorization_request(oauth_provider, challenge=None)
        params = callback_params(oauth_provider.authorize(url))
        assert params["error"] == "invalid_request"

    def test_post_auth_issues_tokens(self, oauth_provider):
        code, verifier = obtain_code(oauth_provider)
        response = exchange_code(oauth_provider, code, verifier, auth="post")
        assert response.json()["refresh_token"]

    def test_basic_auth_issues_tokens(self, oauth_provider):
        code, verifier = obtain_code(oauth_provider)
        response = exchange_code(oauth_provider, code, verifier, auth="basic")
        assert response.json()["refresh_token"]

    def test_wrong_verifier_is_rejected(self, oauth_provider):
        code, _ = obtain_code(oauth_provider)
        response = exchange_code(oauth_provider, code, pkce_pair()[0])
        assert response.json()["error"] == "invalid_grant"

    def test_wrong_secret_is_rejected(self, oauth_provider):
        code, verifier = obtain_code(oauth_provider)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
            "client_id": oauth_provider.clients["connect"].client_id,
            "client_secret": "not-the-secret",
        }
        response = oauth_provider.request("POST", oauth_provider.token_url, fields=form)
        assert response.json()["error"] == "invalid_client"

    def test_code_works_only_once(self, oauth_provider):
        code, verifier = obtain_code(oauth_provider)
        exchange_code(oauth_provider, code, verifier)
        response = exchange_code(oauth_provider, code, verifier)
        assert response.json()["error"] == "invalid_grant"

    def test_added_redirect_uri_is_accepted(self, oauth_provider):
        uri = "http://localhost:8123/api/oauth/callback"
        oauth_provider.add_redirect_uri(uri, client="connect")
        _, challenge = pkce_pair()
        url = authorization_request(
            oauth_provider, challenge=challenge, redirect_uri=uri
        )
        assert oauth_provider.authorize(url).startswith(f"{uri}?code=")


class TestOpenIDConnect:
    def test_id_token_names_the_issuer(self, tokens, oauth_provider):
        assert jwt_claims(tokens["id_token"])["iss"] == oauth_provider.issuer

    def test_id_token_names_the_client(self, tokens, oauth_provider):
        client_id = oauth_provider.clients["connect"].client_id
        assert jwt_claims(tokens["id_token"])["aud"] == client_id

    def test_id_token_verifies_with_jwks(self, tokens, oauth_provider):
        jwk = pytest.importorskip("jwcrypto.jwk")
        jwt = pytest.importorskip("jwcrypto.jwt")
        keys = jwk.JWKSet.from_json(
            oauth_provider.request("GET", oauth_provider.jwks_url).data
        )
        verified = jwt.JWT(jwt=tokens["id_token"], key=keys, expected_type="JWS")
        assert json.loads(verified.claims)["nonce"] == "nonce-456"

    def test_userinfo_returns_the_email(self, tokens, oauth_provider):
        response = userinfo(oauth_provider, tokens["access_token"])
        assert response.json()["email"] == oauth_provider.users["alice"].email

    def test_userinfo_returns_the_username(self, tokens, oauth_provider):
        response = userinfo(oauth_provider, tokens["access_token"])
        assert response.json()["preferred_username"] == "alice"


class TestRefresh:
    def test_refresh_rotates_the_token(self, tokens, oauth_provider):
        response = refresh(oauth_provider, tokens["refresh_token"])
        assert response.json()["refresh_token"] != tokens["refresh_token"]

    def test_reused_refresh_token_is_rejected(self, tokens, oauth_provider):
        refresh(oauth_provider, tokens["refresh_token"])
        response = refresh(oauth_provider, tokens["refresh_token"])
        assert response.json()["error"] == "invalid_grant"

    def test_reuse_revokes_the_new_token(self, tokens, oauth_provider):
        rotated = refresh(oauth_provider, tokens["refresh_token"]).json()
        refresh(oauth_provider, tokens["refresh_token"])
        response = refresh(oauth_provider, rotated["refresh_token"])
        assert response.json()["error"] == "invalid_grant"

    def test_stats_count_refresh_requests(self, tokens, oauth_provider):
        before = oauth_provider.stats()["token_requests"].get("refresh_token", 0)
        refresh(oauth_provider, tokens["refresh_token"])
        after = oauth_provider.stats()["token_requests"]["refresh_token"]
        assert after - before == 1

    def test_stats_name_last_refresh_token(self, tokens, oauth_provider):
        rotated = refresh(oauth_provider, tokens["refresh_token"]).json()
        client_id = oauth_provider.clients["connect"].client_id
        last = oauth_provider.stats(username="alice", client_id=client_id)
        digest = hashlib.sha256(rotated["refresh_token"].encode()).hexdigest()
        assert last["last_refresh_token"]["sha256"] == digest


class TestRevocationAndExpiry:
    def test_revocation_is_accepted(self, tokens, oauth_provider):
        response = revoke(oauth_provider, tokens["access_token"], "access_token")
        assert response.status == 200

    def test_revoked_token_fails_userinfo(self, tokens, oauth_provider):
        revoke(oauth_provider, tokens["access_token"], "access_token")
        assert userinfo(oauth_provider, tokens["access_token"]).status == 401

    def test_revoked_refresh_token_is_rejected(self, tokens, oauth_provider):
        revoke(oauth_provider, tokens["refresh_token"], "refresh_token")
        response = refresh(oauth_provider, tokens["refresh_token"])
        assert response.json()["error"] == "invalid_grant"

    def test_stats_count_revocations(self, tokens, oauth_provider):
        before = oauth_provider.stats()["revocations"]
        revoke(oauth_provider, tokens["refresh_token"], "refresh_token")
        assert oauth_provider.stats()["revocations"] - before == 1

    def test_expired_token_fails_userinfo(self, tokens, oauth_provider):
        oauth_provider.expire_tokens("alice")
        assert userinfo(oauth_provider, tokens["access_token"]).status == 401

    def test_expired_token_is_inactive(self, tokens, oauth_provider):
        oauth_provider.expire_tokens("alice")
        registered = oauth_provider.clients["connect"]
        form = {
            "token": tokens["access_token"],
            "client_id": registered.client_id,
            "client_secret": registered.client_secret,
        }
        response = oauth_provider.request(
            "POST", oauth_provider.introspection_url, fields=form
        )
        assert response.json()["active"] is False

    def test_refresh_works_after_expiry(self, tokens, oauth_provider):
        oauth_provider.expire_tokens("alice")
        response = refresh(oauth_provider, tokens["refresh_token"])
        assert response.status == 200


class TestHelpers:
    def test_test_endpoints_need_the_token(self, oauth_provider):
        response = oauth_provider.request("GET", "/test/stats")
        assert response.status == 401

    def test_resolve_entry_names_the_port(self, oauth_provider):
        expected = f"auth.provider.example:443=127.0.0.1:{oauth_provider.port}"
        assert oauth_provider.resolve_entry() == expected

    def test_routes_map_the_host(self, oauth_routes, settings):
        provider = oauth_routes.provider
        mapping = settings.SECOND_EGRESS_RESOLVE
        assert mapping[provider.host_name] == (LOOPBACK, provider.port)

    def test_routes_keep_other_mappings(self, upstream, oauth_routes, settings):
        assert "api.allowed.example" in settings.SECOND_EGRESS_RESOLVE
