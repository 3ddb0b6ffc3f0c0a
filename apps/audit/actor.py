"""The actor of a model diff: the signed-in user of a request, or of the request
that queued the Celery task, and no user for a system job."""

import logging
from contextvars import ContextVar

from auditlog.context import set_actor
from auditlog.middleware import AuditlogMiddleware
from celery.signals import before_task_publish, task_postrun, task_prerun
from django.contrib.auth import get_user_model

from apps.core.middleware import current_request_id

logger = logging.getLogger(__name__)

# The message header that carries the actor's user id from the web process that
# queues a task to the worker that runs it.
ACTOR_HEADER = "second_actor_id"

_request: ContextVar = ContextVar("audit_actor_request", default=None)
_task_actor_id: ContextVar[str] = ContextVar("audit_task_actor_id", default="")
# Open actor contexts of the tasks running in this process, by task id.
_task_contexts: dict[str, tuple] = {}


def _request_user():
    """Return the user acting in this request, or None.

    Internal routes authenticate the runtime or one run, not a user. A run acts
    for the user who triggered it, and the runtime's own token for no user.
    """
    request = _request.get()
    user = getattr(request, "user", None)
    run = getattr(user, "run", None)
    if run is not None:
        user = run.triggering_user
    if not isinstance(user, get_user_model()) or not user.is_authenticated:
        return None
    return user


def _request_user_id():
    user = _request_user()
    return user.pk if user is not None else None


def _request_user_email():
    user = _request_user()
    return user.email if user is not None else None


def current_actor_id() -> str:
    """Return the id of the user acting now, or "" for a system job."""
    user_id = _request_user_id()
    if user_id is not None:
        return str(user_id)
    return _task_actor_id.get()


def request_id_or_none() -> str | None:
    """Return the correlation id of a diff: the request id of its audit events."""
    return current_request_id.get() or None


class AuditActorMiddleware(AuditlogMiddleware):
    """django-auditlog's middleware, with the actor read when each diff is saved.

    DRF authenticates bearer tokens inside the view, after every middleware has
    run, so the user the parent class reads on the way in is anonymous for API
    requests. The actor's id and email are given as callables instead: django-
    auditlog calls them when it saves a diff, and by then DRF has set the user on
    the request.
    """

    def __call__(self, request):
        token = _request.set(request)
        try:
            return super().__call__(request)
        finally:
            _request.reset(token)

    def get_extra_data(self, request):
        data = super().get_extra_data(request)
        data["actor_id"] = _request_user_id
        data["actor_email"] = _request_user_email
        return data


@before_task_publish.connect
def carry_actor(headers=None, **kwargs) -> None:
    actor_id = current_actor_id()
    if actor_id and headers is not None:
        headers.setdefault(ACTOR_HEADER, actor_id)


@task_prerun.connect
def enter_actor(task_id=None, task=None, **kwargs) -> None:
    """Make the queuing user the actor of the task's diffs.

    A task run in-process has no such header and keeps the caller's context.
    """
    actor_id = task.request.get(ACTOR_HEADER) if task is not None else None
    if not actor_id:
        return

    user = get_user_model().objects.filter(pk=actor_id).first()
    context = set_actor(user)
    context.__enter__()
    _task_contexts[task_id] = (context, _task_actor_id.set(actor_id))
    logger.info("task actor set: task=%s user=%s", task_id, actor_id)


@task_postrun.connect
def leave_actor(task_id=None, **kwargs) -> None:
    opened = _task_contexts.pop(task_id, None)
    if opened is None:
        return

    context, token = opened
    context.__exit__(None, None, None)
    _task_actor_id.reset(token)
