"""Settings of the test OAuth 2.0 and OpenID Connect provider.

OAUTH_PROVIDER_STATE_DIR names the folder that contains the SQLite database
and the OIDC signing key. serve.py sets it from --state-dir. The public URL is
https://OAUTH_PROVIDER_HOST_NAME, which tests map to the loopback port.
"""

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.oauth_provider import accounts

BASE_DIR = Path(__file__).resolve().parent
STATE_DIR = Path(os.environ[accounts.ENV_STATE_DIR])
HOST_NAME = os.environ.get(accounts.ENV_HOST_NAME, accounts.DEFAULT_HOST_NAME)
PUBLIC_URL = f"https://{HOST_NAME}"
ACCESS_TOKEN_SECONDS = int(os.environ.get(accounts.ENV_ACCESS_TOKEN_SECONDS, "3600"))
TEST_API_TOKEN = os.environ.get(accounts.ENV_TEST_TOKEN, "")


def _signing_key_pem(path: Path) -> str:
    """Return the PEM of the OIDC signing key, generating it on first start."""
    if path.exists():
        return path.read_text()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path.touch(mode=0o600)
    path.write_text(pem)
    return pem


SECRET_KEY = "test-oauth-provider-secret-key-not-for-any-real-deployment"
DEBUG = False
ALLOWED_HOSTS = [HOST_NAME]
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "oauth2_provider",
]

MIDDLEWARE = [
    "tests.oauth_provider.stats.StatsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "tests.oauth_provider.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # This folder comes first, so its pages replace the toolkit's, which
        # load static files that this project does not serve.
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": STATE_DIR / "provider.sqlite3",
        # The server handles requests in threads. IMMEDIATE transactions and WAL
        # make concurrent token requests wait for each other instead of failing.
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL;",
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Passwords and client secrets are test values, so a slow hasher would only
# slow down every login and every token request.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/accounts/login/"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

OAUTH2_PROVIDER = {
    "PKCE_REQUIRED": True,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ACCESS_TOKEN_EXPIRE_SECONDS": ACCESS_TOKEN_SECONDS,
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": _signing_key_pem(STATE_DIR / "oidc-signing-key.pem"),
    "OIDC_ISS_ENDPOINT": f"{PUBLIC_URL}/o",
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "refresh_token"],
    "OAUTH2_VALIDATOR_CLASS": "tests.oauth_provider.validators.ClaimsValidator",
    "SCOPES": {
        "openid": "Sign you in",
        "profile": "Read your name and user name",
        "email": "Read your email address",
        "calendar.read": "Read your calendar",
        "calendar.write": "Change your calendar",
    },
    "DEFAULT_SCOPES": ["profile"],
    # Enforce the compliant behaviour of these best-practice switches: S256
    # only, no implicit or password grant, tokens only in headers or bodies
    # and an `iss` parameter in every authorization response.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    # Tokens stay in plain text at rest. With hashed storage, django-oauth-toolkit
    # 3.4.1 returns a 500 to the losers of concurrent refreshes of one token,
    # because it returns the winner's stored access token, which is then blank.
    # NOTE: in plain text, a refresh that starts before the winner commits gets
    # the winner's pair. One that starts after it is a reuse: invalid_grant.
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": False,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django": {"handlers": ["stderr"], "level": "ERROR"},
        "oauth2_provider": {"handlers": ["stderr"], "level": "WARNING"},
        "tests.oauth_provider": {"handlers": ["stderr"], "level": "INFO"},
    },
}
