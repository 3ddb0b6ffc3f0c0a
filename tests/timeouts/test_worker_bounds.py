"""The deadline and the size cap hold inside a real Celery worker.

The worker runs with SECOND_EGRESS_DEADLINE_SECONDS=2. Each result is read back
through tool-execute, as an agent runtime would read it.
"""

import pytest

from tests.support.upstream import LOOPBACK, TcpRecorder
from tests.timeouts.conftest import public_tool

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

WORKER_DEADLINE = "2"
STALL_DOMAIN = "stall.allowed.example"


def _worker_env(upstream, *, extra_resolve: str = "") -> dict[str, str]:
    resolve = upstream.env["SECOND_EGRESS_RESOLVE"]
    return {
        **upstream.env,
        "SECOND_EGRESS_RESOLVE": f"{resolve},{extra_resolve}"
        if extra_resolve
        else resolve,
        "SECOND_EGRESS_DEADLINE_SECONDS": WORKER_DEADLINE,
    }


def _assert_failed(answer, code: str) -> None:
    assert answer.status_code == 502, answer.content
    body = answer.json()
    assert body["error"] == code
    assert body["toolCallId"]


@pytest.fixture
def short_deadline(settings):
    settings.SECOND_EGRESS_DEADLINE_SECONDS = float(WORKER_DEADLINE)


def test_slow_drip_ends_with_egress_timeout(
    short_deadline, worker_mode, harness, upstream
):
    worker_mode(_worker_env(upstream))
    answer = harness(public_tool("/drip")).call()

    _assert_failed(answer, "egress_timeout")
    assert answer.json()["errorCategory"] == "timeout"
    assert [request.path for request in upstream.requests] == ["/drip"]


def test_stalled_tls_handshake_ends_with_egress_timeout(
    short_deadline, worker_mode, harness, upstream
):
    with TcpRecorder() as recorder:
        stall = f"{STALL_DOMAIN}:443={LOOPBACK}:{recorder.port}"
        worker_mode(_worker_env(upstream, extra_resolve=stall))
        answer = harness(public_tool("/json", domain=STALL_DOMAIN)).call()
        connections = recorder.connections

    _assert_failed(answer, "egress_timeout")
    assert connections >= 1


def test_gzip_bomb_ends_with_response_too_large(
    short_deadline, worker_mode, harness, upstream
):
    worker_mode(_worker_env(upstream))
    answer = harness(public_tool("/gzip-bomb")).call()

    _assert_failed(answer, "response_too_large")
    assert answer.json()["errorCategory"] == "response_limit"
