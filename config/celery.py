"""The Celery application; production settings are the default, so it fails closed."""

import os
import sys

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("second")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Jobs of `celery -A config beat`. Each is idempotent: a second run at the same
# time changes nothing the first did not, because each ends rows by a
# conditional update.
app.conf.beat_schedule = {
    "reap-runs-and-tool-calls": {"task": "execution.reap", "schedule": 60.0},
    "expire-invitations": {"task": "workspaces.expire_invitations", "schedule": 3600.0},
    "clean-oauth-state": {"task": "integrations.clean_oauth_state", "schedule": 600.0},
    "apply-audit-retention": {"task": "audit.apply_retention", "schedule": 86400.0},
}


@worker_init.connect
def run_system_checks(**kwargs) -> None:
    """Refuse to start a worker while a Django system check reports an error."""
    from config.startup import StartupChecksFailed, run_startup_checks

    # Celery logs and ignores an exception raised by a signal handler, so the
    # worker is stopped with SystemExit instead.
    try:
        run_startup_checks()
    except StartupChecksFailed:
        sys.exit(1)
