"""Local mode: one machine, SQLite, tasks in-process, keys generated once on disk."""

import os
import secrets
from pathlib import Path

from config.settings.base import *  # noqa: F403
from config.settings.base import (
    BASE_DIR,
    SECOND_AGENT_RUNTIME,
    SECOND_AGENT_RUNTIME_URL,
    env,
    problems,
    public_url_settings,
    validate_public_url,
)
from config.settings.problems import add_runtime_problems, add_test_only_problems

# The exceptions of local mode (the loopback egress rule, eager tasks, generated
# keys) hang on this constant, which no environment variable sets elsewhere.
SECOND_LOCAL_MODE = True

DEBUG = env.bool("DEBUG", default=True)

SECOND_LOCAL_STATE_DIR = Path(
    env.str("SECOND_LOCAL_STATE_DIR", default=str(BASE_DIR / ".second"))
).resolve()


def _ensure_state_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def _read_or_create(name: str, generate) -> str:
    """Return the state file's value, creating it first if it does not exist.

    The value is written to a private temporary file and linked into place, and
    the link fails when another process won the race. Every process then re-reads
    the one file, so processes starting together agree on one value.
    """
    target = SECOND_LOCAL_STATE_DIR / name
    if not target.exists():
        temporary = SECOND_LOCAL_STATE_DIR / f".{name}.{os.getpid()}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(generate())
        try:
            os.link(temporary, target)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return target.read_text().strip()


_ensure_state_dir(SECOND_LOCAL_STATE_DIR)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="") or _read_or_create(
    "django_secret_key", lambda: secrets.token_urlsafe(50)
)
INTERNAL_API_TOKEN = env.str("INTERNAL_API_TOKEN", default="") or _read_or_create(
    "internal_api_token", lambda: secrets.token_urlsafe(32)
)
SECOND_TOKEN_ENCRYPTION_KEY = env.str(
    "SECOND_TOKEN_ENCRYPTION_KEY", default=""
) or _read_or_create("encryption_key", lambda: secrets.token_bytes(32).hex())

SECOND_PUBLIC_URL = env.str("SECOND_PUBLIC_URL", default="http://127.0.0.1:8000")
validate_public_url(SECOND_PUBLIC_URL, require_https=False)
SECOND_PUBLIC = public_url_settings(SECOND_PUBLIC_URL)

ALLOWED_HOSTS = [SECOND_PUBLIC["host"], *env.list("DJANGO_ALLOWED_HOSTS", default=[])]
CSRF_TRUSTED_ORIGINS = [SECOND_PUBLIC["origin"]]

DATABASES = {
    "default": env.db(
        "DATABASE_URL",
        default=f"sqlite:///{SECOND_LOCAL_STATE_DIR / 'db.sqlite3'}",
    )
}
DATABASES["default"].setdefault("OPTIONS", {})
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Write transactions take the lock when they begin, so concurrent requests
    # wait for it (up to the timeout) instead of failing on a lock upgrade.
    DATABASES["default"]["OPTIONS"].update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Without a broker, tasks run in the web process.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"

SECOND_SERVE_INTERNAL_ROUTES = env.bool("SECOND_SERVE_INTERNAL_ROUTES", default=True)

add_runtime_problems(
    problems, SECOND_AGENT_RUNTIME, SECOND_AGENT_RUNTIME_URL, allow_scripted=False
)
add_test_only_problems(problems, os.environ)
problems.raise_if_any("config.settings.local")
