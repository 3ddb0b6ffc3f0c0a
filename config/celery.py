"""The Celery application; production settings are the default, so it fails closed."""

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("second")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def run_system_checks(**kwargs) -> None:
    """Refuse to start a worker while a Django system check reports an error."""
    from config.startup import run_startup_checks

    run_startup_checks()
