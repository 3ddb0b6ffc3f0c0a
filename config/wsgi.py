"""WSGI entry point; production settings are the default, so it fails closed."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

application = get_wsgi_application()

from config.startup import run_startup_checks  # noqa: E402

# An exception here, unlike sys.exit, makes gunicorn's master stop with "Worker
# failed to boot" instead of starting a new worker forever.
run_startup_checks()
