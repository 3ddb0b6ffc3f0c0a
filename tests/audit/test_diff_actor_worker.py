"""A diff made in a real Celery worker names the user whose request queued the task.

A member's run makes a tool call whose OAuth token is due. The call runs in a
`celery -A config worker` subprocess, which refreshes the token and saves the
connected account there. The diff of that save names the member, carried from
the web process in the task's message header.
"""

import pytest
from auditlog.models import LogEntry
from django.utils import timezone

from apps.integrations.models import ConnectedAccount
from config.celery import app as celery_app
from tests.oauth.test_connect_cycle import Cycle
from tests.oauth.test_refresh_workers import require_services, worker_env
from tests.support.worker import WorkerProcess

pytestmark = [
    pytest.mark.worker,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def refresh_diffs(account: ConnectedAccount, since) -> list[LogEntry]:
    return [
        entry
        for entry in LogEntry.objects.get_for_object(account).filter(
            timestamp__gte=since, action=LogEntry.Action.UPDATE
        )
        if "refreshed_at" in entry.changes_dict
    ]


def test_worker_diff_names_triggering_user(
    world, settings, oauth_provider, oauth_routes, upstream, tmp_path
):
    require_services(settings)
    cycle = Cycle(world, oauth_provider, upstream)
    cycle.configure()
    cycle.connect()
    cycle.expire()
    started = timezone.now()
    worker = WorkerProcess(
        worker_env(oauth_routes.env, upstream.env), tmp_path / "worker.log"
    )

    try:
        worker.start()
        settings.CELERY_TASK_ALWAYS_EAGER = False
        celery_app.conf.task_always_eager = False
        answer = cycle.call()
    finally:
        celery_app.conf.task_always_eager = True
        worker.stop()

    assert answer.status_code == 200, worker.log()
    [refreshed] = refresh_diffs(cycle.account(), started)
    assert refreshed.actor_id == world.member.user.pk
