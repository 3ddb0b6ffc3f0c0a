"""Test settings: fixed keys, loopback-only egress and the egress test hooks."""

from config.settings.base import *  # noqa: F403
from config.settings.base import (
    SECOND_AGENT_RUNTIME,
    SECOND_AGENT_RUNTIME_URL,
    env,
    problems,
    public_url_settings,
)
from config.settings.problems import add_runtime_problems


def _parse_resolve_map(value: str) -> dict[str, tuple[str, int]]:
    """Parse `host:443=127.0.0.1:PORT,...` into {host: (address, port)}."""
    mapping: dict[str, tuple[str, int]] = {}
    for entry in filter(None, (item.strip() for item in value.split(","))):
        source, _, target = entry.partition("=")
        host, _, port = source.rpartition(":")
        address, _, target_port = target.rpartition(":")
        if port != "443" or not host or not address or not target_port.isdigit():
            problems.add(
                "SECOND_EGRESS_RESOLVE",
                f"entry {entry!r} is not of the form host:443=127.0.0.1:PORT.",
            )
            continue
        mapping[host.lower().rstrip(".")] = (address.strip("[]"), int(target_port))
    return mapping


SECOND_TEST_MODE = True
DEBUG = False

SECRET_KEY = "test-only-django-secret-key-not-for-any-real-deployment"
INTERNAL_API_TOKEN = "test-internal-token-0123456789abcdefghijklmnop"
SECOND_TOKEN_ENCRYPTION_KEY = env.str(
    "SECOND_TOKEN_ENCRYPTION_KEY",
    default="00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
)

SECOND_PUBLIC_URL = env.str("SECOND_PUBLIC_URL", default="http://testserver")
SECOND_PUBLIC = public_url_settings(SECOND_PUBLIC_URL)
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1", SECOND_PUBLIC["host"]]
CSRF_TRUSTED_ORIGINS = [SECOND_PUBLIC["origin"]]

DATABASES = {"default": env.db("DATABASE_URL", default="sqlite:///:memory:")}

REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "second-test",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Tests run tasks in-process unless a worker test hands them to a real worker.
CELERY_TASK_ALWAYS_EAGER = True

SECOND_SERVE_INTERNAL_ROUTES = True
SECOND_EGRESS_DEADLINE_SECONDS = env.float("SECOND_EGRESS_DEADLINE_SECONDS", default=5)
SECOND_EGRESS_RESOLVE = _parse_resolve_map(env.str("SECOND_EGRESS_RESOLVE", default=""))
SECOND_EGRESS_EXTRA_CA = env.str("SECOND_EGRESS_EXTRA_CA", default="")
SECOND_EGRESS_DIAL_LOG = env.str("SECOND_EGRESS_DIAL_LOG", default="")
WORKOS_BASE_URL = env.str("WORKOS_BASE_URL", default="")

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

add_runtime_problems(
    problems, SECOND_AGENT_RUNTIME, SECOND_AGENT_RUNTIME_URL, allow_scripted=True
)
problems.raise_if_any("config.settings.test")
