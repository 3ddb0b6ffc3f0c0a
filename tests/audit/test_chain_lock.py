"""No network call happens while a workspace's audit chain head is locked.

`audit_record` locks the chain head row for one insert. If a caller wrote an
event inside a transaction and then called a remote server, every other event
of that workspace would wait for that server. These tests hold a request at the
remote end and, meanwhile, try to lock the chain head from another database
connection with NOWAIT. Row locks need PostgreSQL; SQLite locks the whole file.
"""

import threading
from dataclasses import dataclass, field

import pytest
from django.db import OperationalError, connections, transaction

from apps.audit.models import AuditChainHead
from apps.integrations import token_broker
from tests.audit.concurrency_support import record_team_event
from tests.execution.conftest import build_app, tool_document
from tests.oauth.test_connect_cycle import Cycle

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("postgres"),
]

DOMAIN = "api.allowed.example"
LOCKED = "locked"
FREE = "free"


@dataclass
class HeadProbe:
    """Lock attempts on one workspace's chain head, each from a new connection."""

    workspace: object
    results: list[str] = field(default_factory=list)

    def probe(self) -> str:
        """Return `free` when the lock is taken at once, `locked` otherwise."""
        try:
            with transaction.atomic():
                heads = AuditChainHead.objects.select_for_update(nowait=True)
                list(heads.filter(scope=str(self.workspace.pk)))
            result = FREE
        except OperationalError:
            result = LOCKED
        finally:
            connections.close_all()
        self.results.append(result)
        return result

    def probe_in_thread(self) -> str:
        """Probe from a new thread, which Django gives a new connection."""
        thread = threading.Thread(target=self.probe)
        thread.start()
        thread.join(timeout=30)
        return self.results[-1]


@pytest.fixture
def head_probe(world) -> HeadProbe:
    # The head row exists from the workspace's first event on.
    record_team_event(world.workspace)
    return HeadProbe(world.workspace)


def test_probe_sees_held_head(head_probe, world):
    with transaction.atomic():
        record_team_event(world.workspace)
        result = head_probe.probe_in_thread()

    assert result == LOCKED
    assert head_probe.probe_in_thread() == FREE


def test_head_free_during_upstream_request(world, upstream, head_probe):
    def route(handler, _request) -> None:
        head_probe.probe()
        handler.send_body(200, b'{"ok": true}')

    upstream.server.set_route("/held", route)
    tool = build_app(world, tool_document(url=f"https://{DOMAIN}/held", domain=DOMAIN))

    answer = tool.call()

    assert answer.status_code == 200, answer.content
    assert answer.json()["mock"] is False
    assert head_probe.results == [FREE]


@pytest.fixture
def cycle(world, oauth_provider, oauth_routes, upstream) -> Cycle:
    return Cycle(world, oauth_provider, upstream)


def test_head_free_during_token_refresh(cycle, head_probe, monkeypatch):
    cycle.configure()
    cycle.connect()
    cycle.expire()
    real_token_request = token_broker.token_request

    def probing_token_request(*args, **kwargs):
        head_probe.probe_in_thread()
        return real_token_request(*args, **kwargs)

    monkeypatch.setattr(token_broker, "token_request", probing_token_request)

    answer = cycle.call()

    assert answer.status_code == 200, answer.content
    assert answer.json()["mock"] is False
    assert head_probe.results == [FREE]
