"""One refresh across two real Celery workers.

Twenty tool calls for one connected account whose access token is due are
sent at once from threads of this process and executed by two `celery -A
config worker` subprocesses. The token broker's PostgreSQL row lock lets
exactly one of them refresh at the provider, and the others use the token it
stored. The refresh token kept is the last one the provider issued.

Settings overrides of this process do not reach the workers, so they are
handed the provider's and the upstream's routes as environment variables.
"""

import hashlib
import re
import threading

import pytest
import redis
from django.db import connection, connections

from apps.secret_store.store import secret_store
from config.celery import app as celery_app
from tests.conftest import skip_or_fail
from tests.oauth.test_connect_cycle import Cycle
from tests.support.worker import WorkerProcess

pytestmark = [
    pytest.mark.worker,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

WORKERS = 2
# The workspace's default number of tool-call slots, so none waits for a slot.
CONCURRENT_CALLS = 20
# Hang guards only: each call ends within the product's own wait of 15 s.
BARRIER_SECONDS = 30
JOIN_SECONDS = 120
EXECUTED = re.compile(r"Task execution\.run_tool_call\[[0-9a-f-]+\] succeeded")


def require_services(settings) -> None:
    if connection.vendor != "postgresql":
        skip_or_fail("needs DATABASE_URL pointing at PostgreSQL")
    if not settings.REDIS_URL:
        skip_or_fail("needs REDIS_URL pointing at a running Redis")
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError:
        skip_or_fail("needs REDIS_URL pointing at a running Redis")


def worker_env(*envs: dict[str, str]) -> dict[str, str]:
    """Merge the fixtures' environments, keeping every SECOND_EGRESS_RESOLVE entry."""
    merged: dict[str, str] = {}
    routes: dict[str, str] = {}
    for env in envs:
        merged.update(env)
        for entry in filter(None, env.get("SECOND_EGRESS_RESOLVE", "").split(",")):
            routes[entry.partition("=")[0]] = entry
    merged["SECOND_EGRESS_RESOLVE"] = ",".join(routes.values())
    return merged


def refresh_count(provider) -> int:
    return provider.stats()["token_requests"].get("refresh_token", 0)


def call_at_once(cycle: Cycle) -> list[tuple[int, object]]:
    """Send CONCURRENT_CALLS tool calls together and return (status, mock) of each."""
    answers: list[tuple[int, object]] = []
    start = threading.Barrier(CONCURRENT_CALLS)

    def call() -> None:
        try:
            start.wait(timeout=BARRIER_SECONDS)
            answer = cycle.call()
            answers.append((answer.status_code, answer.json().get("mock")))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=call) for _ in range(CONCURRENT_CALLS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_SECONDS)
    return answers


def test_two_workers_refresh_once(
    world, settings, oauth_provider, oauth_routes, upstream, tmp_path
):
    require_services(settings)
    # The app and its run are built while tasks are still eager, so the
    # workers receive the tool calls only.
    cycle = Cycle(world, oauth_provider, upstream)
    cycle.configure()
    cycle.connect()
    cycle.expire()
    env = worker_env(oauth_routes.env, upstream.env)
    before = refresh_count(oauth_provider)
    workers: list[WorkerProcess] = []
    try:
        for index in range(WORKERS):
            log = tmp_path / f"worker-{index}.log"
            workers.append(WorkerProcess(env, log).start())
        settings.CELERY_TASK_ALWAYS_EAGER = False
        celery_app.conf.task_always_eager = False
        answers = call_at_once(cycle)
    finally:
        celery_app.conf.task_always_eager = True
        for worker in workers:
            worker.stop()

    logs = [worker.log() for worker in workers]
    executed = [len(EXECUTED.findall(log)) for log in logs]
    # How the calls split between the workers depends on prefetching, so only
    # their sum is checked.
    assert [status for status, _ in answers] == [200] * CONCURRENT_CALLS, logs
    assert [mock for _, mock in answers] == [False] * CONCURRENT_CALLS
    assert sum(executed) == CONCURRENT_CALLS, executed
    assert refresh_count(oauth_provider) == before + 1
    stored = secret_store().read(cycle.account().refresh_token)
    digest = hashlib.sha256(stored.encode()).hexdigest()
    assert oauth_provider.stats()["last_refresh_token"]["sha256"] == digest
