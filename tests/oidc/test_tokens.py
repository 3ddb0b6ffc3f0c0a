"""ID tokens and bearer tokens the product must reject, made by the real
provider: another client's, another provider's, expired, with a replayed
nonce or signed with the wrong key. None of them creates a session."""

import base64
import hashlib
import json
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.cache import cache
from django.core.exceptions import SuspiciousOperation

from apps.accounts.oidc import LoginRejected, ProviderBackend, check_registered_claims
from tests.support.oauth_server import CALLBACK_PATH, start_oauth_provider

pytestmark = pytest.mark.django_db(transaction=True)

REDIRECT = f"http://testserver{CALLBACK_PATH}"


def tokens_for(provider, client_name: str, nonce: str) -> dict:
    """Run the code flow by hand for `client_name` and return the token response."""
    client = provider.clients[client_name]
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        .decode()
        .rstrip("=")
    )
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": REDIRECT,
            "scope": "openid email profile",
            "state": secrets.token_urlsafe(16),
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    redirect = provider.authorize(f"{provider.authorization_url}?{query}")
    code = parse_qs(urlsplit(redirect).query)["code"][0]
    response = provider.request(
        "POST",
        provider.token_url,
        fields={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "code_verifier": verifier,
        },
    )
    assert response.status == 200, response.data
    return json.loads(response.data)


def verify(token: str, nonce: str):
    return ProviderBackend().verify_token(token, nonce=nonce)


def test_own_token_verifies(oidc):
    token = tokens_for(oidc.provider, "sso", "nonce-own")["id_token"]

    payload = verify(token, "nonce-own")

    assert payload["aud"] == oidc.provider.clients["sso"].client_id


def test_other_client_token_rejected(oidc):
    token = tokens_for(oidc.provider, "connect", "nonce-aud")["id_token"]

    with pytest.raises(LoginRejected) as rejected:
        verify(token, "nonce-aud")

    assert rejected.value.reason == "wrong_audience"


def test_replayed_nonce_rejected(oidc):
    token = tokens_for(oidc.provider, "sso", "nonce-first")["id_token"]

    with pytest.raises(SuspiciousOperation):
        verify(token, "nonce-second")


def test_expired_token_rejected(oidc):
    token = tokens_for(oidc.provider, "sso", "nonce-exp")["id_token"]
    payload = verify(token, "nonce-exp")

    with pytest.raises(LoginRejected) as rejected:
        check_registered_claims(payload, now=payload["exp"] + 3600)

    assert rejected.value.reason == "token_expired"


def test_wrong_key_rejected(oidc):
    token = tokens_for(oidc.provider, "sso", "nonce-key")["id_token"]
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        claims, other_key, algorithm="RS256", headers={"kid": header["kid"]}
    )

    with pytest.raises(SuspiciousOperation):
        verify(forged, "nonce-key")


def test_other_provider_rejected(oidc, tls_ca, tmp_path, settings):
    other = start_oauth_provider(
        tls_ca, tmp_path / "other", host_name="other.provider.example"
    )
    try:
        settings.SECOND_EGRESS_RESOLVE = {
            **settings.SECOND_EGRESS_RESOLVE,
            other.host_name: ("127.0.0.1", other.port),
        }
        token = tokens_for(other, "sso", "nonce-iss")["id_token"]

        with pytest.raises(SuspiciousOperation):
            verify(token, "nonce-iss")
    finally:
        other.stop()


def test_other_issuer_claim_rejected(oidc):
    token = tokens_for(oidc.provider, "sso", "nonce-iss2")["id_token"]
    payload = verify(token, "nonce-iss2")

    with pytest.raises(LoginRejected) as rejected:
        check_registered_claims({**payload, "iss": "https://other.example/o"})

    assert rejected.value.reason == "wrong_issuer"


def test_future_token_rejected(oidc):
    token = tokens_for(oidc.provider, "sso", "nonce-iat")["id_token"]
    payload = verify(token, "nonce-iat")

    with pytest.raises(LoginRejected) as rejected:
        check_registered_claims(payload, now=payload["iat"] - 3600)

    assert rejected.value.reason == "token_not_yet_valid"


# Bearer tokens on the API.


def test_bearer_token_reaches_api(oidc, world):
    oidc.sign_in("alice")
    access = tokens_for(oidc.provider, "sso", "nonce-api")["access_token"]
    from django.test import Client

    response = Client().get("/api/workspaces", HTTP_AUTHORIZATION=f"Bearer {access}")

    assert response.status_code == 200, response.content


def test_expired_bearer_token_401(oidc, world):
    oidc.sign_in("alice")
    access = tokens_for(oidc.provider, "sso", "nonce-api2")["access_token"]
    oidc.provider.expire_tokens("alice")
    cache.clear()
    from django.test import Client

    response = Client().get("/api/workspaces", HTTP_AUTHORIZATION=f"Bearer {access}")

    assert response.status_code == 401


def test_unknown_subject_bearer_401(oidc, world):
    access = tokens_for(oidc.provider, "sso", "nonce-api3")["access_token"]
    from django.test import Client

    response = Client().get("/api/workspaces", HTTP_AUTHORIZATION=f"Bearer {access}")

    assert response.status_code == 401


def test_pat_never_sent_to_provider(oidc, world):
    before = oidc.provider.stats()["userinfo_requests"]
    from django.test import Client

    Client().get("/api/workspaces", HTTP_AUTHORIZATION="Bearer pat_abc_" + "x" * 40)

    assert oidc.provider.stats()["userinfo_requests"] == before


def test_idle_account_token_refused(oidc, world):
    from django.test import Client

    world.owner.user.last_provider_login_at = None
    world.owner.user.save()

    response = Client().get(
        "/api/workspaces", HTTP_AUTHORIZATION=f"Bearer {world.owner.token}"
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
