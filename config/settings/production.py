"""Production: PostgreSQL, Redis, Celery workers, external login, explicit keys.

Every unsafe or missing value is collected and raised together, so one failed
start lists everything an operator has to fix.
"""

import logging
import os

from config.settings.base import *  # noqa: F403
from config.settings.base import (
    DEBUG,
    SECOND_AGENT_RUNTIME,
    SECOND_AGENT_RUNTIME_URL,
    SECOND_AUTH_MODE,
    WORKOS_API_KEY,
    env,
    problems,
    public_url_settings,
    validate_public_url,
)
from config.settings.problems import add_runtime_problems, add_test_only_problems

logger = logging.getLogger("config.settings")

if DEBUG:
    problems.add("DEBUG", "must be off in production; unset it or set DEBUG=off.")

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    problems.add("DJANGO_SECRET_KEY", "is required; set a long random value.")

SECOND_PUBLIC_URL = env.str("SECOND_PUBLIC_URL", default="")
if SECOND_PUBLIC_URL:
    validate_public_url(SECOND_PUBLIC_URL, require_https=True)
else:
    problems.add(
        "SECOND_PUBLIC_URL",
        "is required; set the https base URL people reach the product at.",
    )
SECOND_PUBLIC = public_url_settings(SECOND_PUBLIC_URL or "https://invalid.invalid")

SECOND_INTERNAL_HOSTS = env.list("SECOND_INTERNAL_HOSTS", default=[])
ALLOWED_HOSTS = [
    SECOND_PUBLIC["host"],
    *SECOND_INTERNAL_HOSTS,
    *env.list("DJANGO_ALLOWED_HOSTS", default=[]),
]
CSRF_TRUSTED_ORIGINS = [SECOND_PUBLIC["origin"]]

DATABASE_URL = env.str("DATABASE_URL", default="")
if not DATABASE_URL:
    problems.add("DATABASE_URL", "is required; set a postgres:// URL.")
    DATABASES = {"default": env.db_url_config("postgres://invalid/invalid")}
else:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        problems.add(
            "DATABASE_URL",
            "must point at PostgreSQL in production; SQLite and other engines are "
            "for local mode only.",
        )
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)

REDIS_URL = env.str("REDIS_URL", default="")
if not REDIS_URL:
    problems.add("REDIS_URL", "is required; set a redis:// URL for cache and state.")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL or "redis://invalid:6379/0",
    }
}
CELERY_TASK_ALWAYS_EAGER = False

if SECOND_AUTH_MODE != "external":
    problems.add(
        "SECOND_AUTH_MODE",
        "must be 'external' in production; configure OIDC_* and set "
        "SECOND_AUTH_MODE=external.",
    )

INTERNAL_API_TOKEN = env.str("INTERNAL_API_TOKEN", default="")
if len(INTERNAL_API_TOKEN) < 32:
    problems.add(
        "INTERNAL_API_TOKEN",
        "is required and must be at least 32 characters; generate one with "
        "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`.",
    )

SECOND_TOKEN_ENCRYPTION_KEY = env.str("SECOND_TOKEN_ENCRYPTION_KEY", default="")
if not SECOND_TOKEN_ENCRYPTION_KEY and not WORKOS_API_KEY:
    problems.add(
        "SECOND_TOKEN_ENCRYPTION_KEY",
        "is required unless WORKOS_API_KEY configures WorkOS Vault; set base64 of "
        "32 random bytes or 64 hex characters.",
    )

SECOND_SERVE_INTERNAL_ROUTES = env.bool("SECOND_SERVE_INTERNAL_ROUTES", default=False)

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=3600)
SECURE_CONTENT_TYPE_NOSNIFF = True

add_runtime_problems(
    problems, SECOND_AGENT_RUNTIME, SECOND_AGENT_RUNTIME_URL, allow_scripted=False
)
add_test_only_problems(problems, os.environ)
problems.raise_if_any("config.settings.production")
