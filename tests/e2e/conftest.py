"""Run each end-to-end flow with eager tasks and, where it can, a real worker."""

import os
from dataclasses import dataclass

import pytest
import redis
from django.db import connection

from config.celery import app as celery_app
from tests.conftest import skip_or_fail
from tests.support.worker import WorkerProcess


@dataclass
class ExecutionMode:
    name: str
    worker: WorkerProcess | None = None

    def worker_log(self) -> str:
        return self.worker.log() if self.worker else ""


def _redis_reachable(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


# CI's SQLite leg sets SECOND_TEST_EXECUTION_MODES=eager: it has no worker.
MODES = os.environ.get("SECOND_TEST_EXECUTION_MODES", "eager,worker").split(",")


@pytest.fixture(params=MODES)
def execution_mode(request, settings, upstream, tmp_path):
    """`eager` runs tasks in-process; `worker` starts a Celery worker subprocess on
    Redis and PostgreSQL and hands it the upstream's egress settings."""
    if request.param == "eager":
        yield ExecutionMode("eager")
        return

    if connection.vendor != "postgresql":
        skip_or_fail("the worker leg needs DATABASE_URL pointing at PostgreSQL")
    if not settings.REDIS_URL or not _redis_reachable(settings.REDIS_URL):
        skip_or_fail("the worker leg needs REDIS_URL pointing at a running Redis")

    worker = WorkerProcess(upstream.env, tmp_path / "worker.log").start()
    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_app.conf.task_always_eager = False
    try:
        yield ExecutionMode("worker", worker)
    finally:
        celery_app.conf.task_always_eager = True
        worker.stop()
