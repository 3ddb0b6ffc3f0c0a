"""Test settings for the benchmark's Celery worker, with eager tasks off.

The worker receives its tasks from the broker, as a production worker does, so
it reads CELERY_TASK_ALWAYS_EAGER=False like production settings, and signals
the waiting web process on the Redis list `toolcall:{id}`.
"""

from config.settings.test import *  # noqa: F403

CELERY_TASK_ALWAYS_EAGER = False
