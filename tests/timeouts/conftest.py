"""Fixtures for the wait, slot and reaper tests: apps per workspace and workers.

`worker_mode` turns off eager tasks for one test, so tool calls travel through
Redis, and hands back a function that starts a real `celery -A config worker`
with a given environment. Without PostgreSQL and Redis it skips the test (or
fails it under SECOND_TEST_STRICT=1).
"""

import time
from types import SimpleNamespace

import pytest
import redis
from django.db import connection

from config.celery import app as celery_app
from tests.conftest import skip_or_fail
from tests.execution.conftest import build_app, tool_document
from tests.support.worker import WorkerProcess

DOMAIN = "api.allowed.example"
# Upper bound of every wait below; it only stops a broken test from hanging.
HANG_GUARD_SECONDS = 90.0


def wait_for(predicate, *, what: str, timeout: float = HANG_GUARD_SECONDS):
    """Return predicate()'s first truthy value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"gave up waiting for {what}")


def public_tool(path: str, *, domain: str = DOMAIN) -> dict:
    """An agents.json whose one tool `lookup` GETs https://DOMAIN/PATH, no secrets."""
    return tool_document(url=f"https://{domain}{path}", domain=domain)


def require_postgres() -> None:
    if connection.vendor != "postgresql":
        skip_or_fail("this test needs DATABASE_URL pointing at PostgreSQL")


def _redis_reachable(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def harness(world):
    """Build an approved app with a draft run in the world's first workspace."""

    def make(document: dict, **options):
        return build_app(world, document, **options)

    return make


@pytest.fixture
def other_harness(world):
    """Build an approved app with a draft run in the outsider's own workspace."""
    other_world = SimpleNamespace(
        workspace=world.other_workspace, owner=world.outsider, admin=world.outsider
    )

    def make(document: dict, **options):
        return build_app(other_world, document, **options)

    return make


@pytest.fixture
def worker_mode(settings, tmp_path):
    """Send tasks through Redis for this test; yield `start(env) -> WorkerProcess`.

    No worker runs until the test starts one. Queued messages are purged before
    and after, so no test hands its messages to another test's worker.
    """
    require_postgres()
    if not settings.REDIS_URL or not _redis_reachable(settings.REDIS_URL):
        skip_or_fail("this test needs REDIS_URL pointing at a running Redis")

    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    started: list[WorkerProcess] = []

    def start(env: dict[str, str]) -> WorkerProcess:
        log_path = tmp_path / f"worker-{len(started)}.log"
        worker = WorkerProcess(env, log_path).start()
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()
        celery_app.control.purge()
        celery_app.conf.task_always_eager = True
