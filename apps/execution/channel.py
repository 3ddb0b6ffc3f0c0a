"""The wake-up channel between a worker and the web process waiting on a call.

The worker pushes the call id to the Redis list `toolcall:{id}` after writing the
row; the waiter blocks on that list. The list carries no result: the row is the
only channel of results. Without a broker (local mode) tasks run in-process, so
the row is final before anyone waits.
"""

import functools
import logging

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

LIST_TTL_SECONDS = 300


def _key(tool_call_id) -> str:
    return f"toolcall:{tool_call_id}"


@functools.cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=None, socket_connect_timeout=5)


def channel_enabled() -> bool:
    return not settings.CELERY_TASK_ALWAYS_EAGER and bool(settings.REDIS_URL)


def notify_done(tool_call_id, *, from_broker: bool) -> None:
    """Wake the waiter of a call whose task came through the broker.

    Whether a task was delivered by the broker is a fact of the task, not of the
    settings: a worker under the test settings reads eager mode for its own
    publishing, yet a web process is waiting on the list.
    """
    if not (from_broker and settings.REDIS_URL):
        return
    client = _client(settings.REDIS_URL)
    pipeline = client.pipeline()
    pipeline.rpush(_key(tool_call_id), "done")
    pipeline.expire(_key(tool_call_id), LIST_TTL_SECONDS)
    pipeline.execute()


def wait_done(tool_call_id, *, timeout_seconds: float) -> bool:
    """Block until the worker signals the call or the timeout passes."""
    if not channel_enabled():
        return True
    client = _client(settings.REDIS_URL)
    answer = client.blpop([_key(tool_call_id)], timeout=max(1, int(timeout_seconds)))
    return answer is not None
