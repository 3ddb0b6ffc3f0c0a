"""A worker killed in the middle of a tool call: the call ends `lost`, the reaper
fails the run, and nothing is sent twice."""

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.execution.models import AgentRun, ToolCall
from apps.execution.reaper import tool_calls_mark_lost
from apps.execution.runs import runs_fail_timed_out
from config.celery import app as celery_app
from tests.conftest import skip_or_fail
from tests.e2e.conftest import _redis_reachable
from tests.execution.conftest import build_app, tool_document
from tests.support.worker import WorkerProcess

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

HANG_GUARD_SECONDS = 60


def wait_until(condition) -> None:
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting (hang guard)"
        time.sleep(0.1)


@pytest.fixture
def real_worker_mode(settings):
    from django.db import connection

    if connection.vendor != "postgresql":
        skip_or_fail("this test needs DATABASE_URL pointing at PostgreSQL")
    if not settings.REDIS_URL or not _redis_reachable(settings.REDIS_URL):
        skip_or_fail("this test needs REDIS_URL pointing at a running Redis")
    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = True


def test_killed_worker_leaves_call_lost(
    world, upstream, real_worker_mode, settings, tmp_path
):
    settings.SECOND_EGRESS_DEADLINE_SECONDS = 1
    worker_env = {**upstream.env, "SECOND_EGRESS_DEADLINE_SECONDS": "60"}
    worker = WorkerProcess(worker_env, tmp_path / "worker.log").start()
    built = build_app(
        world,
        tool_document(
            url="https://api.allowed.example/hang", domain="api.allowed.example"
        ),
    )
    answers = []
    caller = threading.Thread(target=lambda: answers.append(built.call()))
    caller.start()

    try:
        wait_until(lambda: ToolCall.objects.filter(state="running").exists())
        wait_until(lambda: len(upstream.requests) == 1)
    finally:
        worker.process.kill()
        worker.process.wait(timeout=30)
    caller.join(timeout=HANG_GUARD_SECONDS)

    assert answers[0].status_code == 504
    assert answers[0].json()["retryable"] is False
    later = timezone.now() + timedelta(hours=2)
    assert tool_calls_mark_lost(now=later) == 1
    assert runs_fail_timed_out(now=later) == 1
    call = ToolCall.objects.get()
    assert call.state == "lost"
    assert AgentRun.objects.get(pk=built.run_id).error_code == "run_timed_out"

    restarted = WorkerProcess(worker_env, tmp_path / "worker2.log").start()
    try:
        time.sleep(2)
    finally:
        restarted.stop()
    assert len(upstream.requests) == 1
    assert ToolCall.objects.get().state == "lost"
