"""Celery runs JSON only, bounded, and never retries a tool call."""

from apps.execution.tasks import run_tool_call
from config.celery import app


def test_celery_accepts_json_only():
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_serializer == "json"


def test_celery_tasks_are_bounded():
    assert app.conf.task_soft_time_limit == 45
    assert app.conf.task_time_limit == 60


def test_tool_call_task_never_retries():
    assert run_tool_call.max_retries == 0
    assert run_tool_call.acks_late is False


def test_celery_keeps_no_results():
    assert app.conf.task_ignore_result is True
    assert app.conf.result_backend is None
