"""Settings shared by every settings module, read once from the environment."""

from pathlib import Path
from urllib.parse import urlsplit

import environ

from config.settings.problems import SettingsProblems

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
problems = SettingsProblems()

# Local mode is a constant of the local settings module; no variable turns it on.
SECOND_LOCAL_MODE = False
SECOND_TEST_MODE = False

DEBUG = env.bool("DEBUG", default=False)
# Older Django secret keys that still verify signatures, newest first, so the
# key can be rotated without breaking sessions or audit chain signatures.
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])

INSTALLED_APPS = [
    "apps.workspaces.admin_apps.SecondAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "auditlog",
    "apps.core",
    "apps.accounts",
    "apps.workspaces",
    "apps.applications",
    "apps.agents",
    "apps.secret_store",
    "apps.integrations",
    "apps.execution",
    "apps.audit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apps.core.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.audit.actor.AuditActorMiddleware",
    "apps.accounts.oidc_views.SessionLifetimeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.core.middleware.InternalRoutesMiddleware",
    "apps.core.middleware.ApiErrorMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation."
        "UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/admin/"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.PersonalTokenAuthentication",
        "apps.accounts.authentication.ProviderTokenAuthentication",
        "apps.accounts.authentication.CsrfSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apps.workspaces.api.permissions.IsIdentified"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["apps.core.parsers.BoundedJSONParser"],
    "EXCEPTION_HANDLER": "apps.core.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

# The product's own settings. Names follow the environment variables they come from.
SECOND_AUTH_MODE = env.str("SECOND_AUTH_MODE", default="local")
if SECOND_AUTH_MODE == "none":
    SECOND_AUTH_MODE = "local"
if SECOND_AUTH_MODE not in ("local", "external"):
    problems.add("SECOND_AUTH_MODE", "must be 'local' or 'external'.")

# External login with OpenID Connect (mozilla-django-oidc), read in every mode
# and required in external mode. Provider tokens are never kept in the session.
OIDC_OP_ISSUER = env.str("OIDC_OP_ISSUER", default="")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("OIDC_OP_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env.str("OIDC_OP_TOKEN_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env.str("OIDC_OP_USER_ENDPOINT", default="")
OIDC_OP_JWKS_ENDPOINT = env.str("OIDC_OP_JWKS_ENDPOINT", default="")
OIDC_OP_LOGOUT_ENDPOINT = env.str("OIDC_OP_LOGOUT_ENDPOINT", default="")
OIDC_RP_CLIENT_ID = env.str("OIDC_RP_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("OIDC_RP_CLIENT_SECRET", default="")
OIDC_RP_SIGN_ALGO = env.str("OIDC_RP_SIGN_ALGO", default="RS256")
OIDC_RP_SCOPES = env.str("OIDC_RP_SCOPES", default="openid email profile")
OIDC_REQUIRED_VARIABLES = (
    "OIDC_OP_ISSUER",
    "OIDC_OP_AUTHORIZATION_ENDPOINT",
    "OIDC_OP_TOKEN_ENDPOINT",
    "OIDC_OP_USER_ENDPOINT",
    "OIDC_OP_JWKS_ENDPOINT",
    "OIDC_RP_CLIENT_ID",
    "OIDC_RP_CLIENT_SECRET",
)
if SECOND_AUTH_MODE == "external":
    for _variable in OIDC_REQUIRED_VARIABLES:
        if not globals()[_variable]:
            problems.add(_variable, "is required when SECOND_AUTH_MODE=external.")
if OIDC_RP_SIGN_ALGO not in ("RS256", "ES256"):
    problems.add("OIDC_RP_SIGN_ALGO", "must be RS256 or ES256.")
# External mode signs in only through the provider; local mode only locally.
AUTHENTICATION_BACKENDS = (
    ["apps.accounts.oidc.ProviderBackend"]
    if SECOND_AUTH_MODE == "external"
    else ["django.contrib.auth.backends.ModelBackend"]
)
OIDC_USE_PKCE = True
OIDC_PKCE_CODE_CHALLENGE_METHOD = "S256"
OIDC_USE_NONCE = True
OIDC_STORE_ACCESS_TOKEN = False
OIDC_STORE_ID_TOKEN = False
OIDC_CREATE_USER = True
OIDC_TIMEOUT = 10
OIDC_VERIFY_KID = True
# Sessions are renewed against the provider this often, before ID tokens expire.
OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS = env.int(
    "OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS", default=15 * 60
)
OIDC_AUTHENTICATION_CALLBACK_URL = "oidc_authentication_callback"
OIDC_OP_LOGOUT_URL_METHOD = "apps.accounts.oidc.provider_logout_url"
# The claim whose values map to workspace roles at each login, and the map:
# {"claim value": [{"workspace": "slug", "role": "admin"}, ...]}.
SECOND_OIDC_ROLE_CLAIM = env.str("SECOND_OIDC_ROLE_CLAIM", default="groups")
SECOND_OIDC_ROLE_MAP = env.json("SECOND_OIDC_ROLE_MAP", default={})

SECOND_WORKSPACE_CREATION = env.str("SECOND_WORKSPACE_CREATION", default="anyone")
if SECOND_WORKSPACE_CREATION not in ("anyone", "ops"):
    problems.add("SECOND_WORKSPACE_CREATION", "must be 'anyone' or 'ops'.")

SECOND_AGENT_RUNTIME = env.str("SECOND_AGENT_RUNTIME", default="none")
SECOND_AGENT_RUNTIME_URL = env.str("SECOND_AGENT_RUNTIME_URL", default="")
SECOND_RUN_TIMEOUT_SECONDS = env.int("SECOND_RUN_TIMEOUT_SECONDS", default=3600)
SECOND_TOOL_CONCURRENCY_PER_WORKSPACE = env.int(
    "SECOND_TOOL_CONCURRENCY_PER_WORKSPACE", default=20
)
SECOND_PAT_MAX_IDLE_DAYS = env.int("SECOND_PAT_MAX_IDLE_DAYS", default=30)

SECOND_EGRESS_DEADLINE_SECONDS = env.float("SECOND_EGRESS_DEADLINE_SECONDS", default=30)
SECOND_EGRESS_DENY_DOMAINS = [
    domain.strip().lower().rstrip(".")
    for domain in env.list("SECOND_EGRESS_DENY_DOMAINS", default=[])
    if domain.strip()
]
SECOND_EGRESS_OPERATOR_HOSTS = [
    pair.strip().lower()
    for pair in env.list("SECOND_EGRESS_OPERATOR_HOSTS", default=[])
    if pair.strip()
]
SECOND_EGRESS_MAX_RESPONSE_BYTES = 1024 * 1024

# Test settings replace these; every other module leaves them empty.
SECOND_EGRESS_RESOLVE: dict[str, tuple[str, int]] = {}
SECOND_EGRESS_EXTRA_CA = ""
SECOND_EGRESS_DIAL_LOG = ""

WORKOS_API_KEY = env.str("WORKOS_API_KEY", default="")
WORKOS_BASE_URL = ""

DATA_UPLOAD_MAX_MEMORY_SIZE = 16 * 1024 * 1024

DEFAULT_EXCEPTION_REPORTER_FILTER = (
    "apps.core.reporting.RedactingExceptionReporterFilter"
)

# Celery: JSON only, bounded tasks, no result backend. Tool-call results travel
# through their ToolCall row and a Redis list, never through Celery results.
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SOFT_TIME_LIMIT = 45
CELERY_TASK_TIME_LIMIT = 60
CELERY_TASK_ACKS_LATE = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_EAGER_PROPAGATES = True

# django-auditlog keeps model diffs only; the product's own audit events live in
# apps.audit. Remote addresses stay out of its rows.
AUDITLOG_DISABLE_REMOTE_ADDR = True
# A diff's correlation id is the request id of the audit events of its request.
AUDITLOG_CID_GETTER = "apps.audit.actor.request_id_or_none"
# Audit events older than this are removed by the retention job, in whole
# prefixes of each workspace's chain, leaving an audit.checkpoint event.
SECOND_AUDIT_RETENTION_DAYS = env.int("SECOND_AUDIT_RETENTION_DAYS", default=365)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "apps.core.logging.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        # Django's own handlers print request paths unmasked, and an invitation
        # path carries its token, so these loggers use the JSON handler too.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.server": {
            "handlers": ["console"],
            "level": "INFO",
            "propagate": False,
        },
        "django.db.backends": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
    },
}


def public_url_settings(public_url: str) -> dict[str, object]:
    """Derive the host and origin settings from SECOND_PUBLIC_URL."""
    parts = urlsplit(public_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    return {
        "host": (parts.hostname or "").lower(),
        "origin": origin,
        "scheme": parts.scheme,
        "port": parts.port or (443 if parts.scheme == "https" else 80),
    }


def validate_public_url(public_url: str, *, require_https: bool) -> None:
    parts = urlsplit(public_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.add(
            "SECOND_PUBLIC_URL",
            f"{public_url!r} is not an absolute http(s) URL; set it to the base URL "
            "people reach the product at, such as https://second.example.com.",
        )
    elif require_https and parts.scheme != "https":
        problems.add(
            "SECOND_PUBLIC_URL", f"{public_url!r} must use https in production."
        )
