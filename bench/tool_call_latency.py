"""Latency of one tool call, direct and through the product, on loopback.

    python bench/tool_call_latency.py [--calls N] [--worker]

Starts an HTTPS upstream on 127.0.0.1 with a test CA and times N calls of
GET /json three ways, after a short warm-up:

(a) `requests.get` straight to the upstream, trusting the test CA. Each call
    opens a new connection, as the egress client does.
(b) POST /api/internal/tool-execute in this process with eager tasks. This
    covers the route, the row, the pipeline, the egress client and the audit
    event.
(c) With `--worker`, the same route with a real `celery -A config worker`
    running the task and waking the web side through Redis. This needs
    DATABASE_URL (PostgreSQL) and REDIS_URL. The broker is CELERY_BROKER_URL,
    or REDIS_URL when that is unset.

It prints the median and the 99th percentile of each, and their ratio to (a).
The database is a scratch test database made and dropped by Django's test
machinery: in-memory SQLite by default, or `<name>_bench` on the server that
DATABASE_URL names. Nothing leaves loopback.
"""

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.tls import TestCA, make_test_ca  # noqa: E402
from tests.support.upstream import LOOPBACK, UpstreamServer  # noqa: E402

HOST = "api.allowed.example"
MAX_CALLS = 10_000
WARMUP_CALLS = 20
AGENT = "bench"
TOOL = "lookup"


@dataclass(frozen=True)
class Figures:
    label: str
    median_ms: float
    p99_ms: float


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls per path")
    parser.add_argument(
        "--worker",
        action="store_true",
        help="also time (c) through a Celery worker (PostgreSQL and Redis)",
    )
    args = parser.parse_args()
    if not 1 <= args.calls <= MAX_CALLS:
        parser.error(f"--calls must be between 1 and {MAX_CALLS}")
    return args


def configure_django(server: UpstreamServer, ca: TestCA) -> None:
    """Point the test settings at the upstream, then set Django up."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ["SECOND_EGRESS_RESOLVE"] = f"{HOST}:443={LOOPBACK}:{server.port}"
    os.environ["SECOND_EGRESS_EXTRA_CA"] = str(ca.pem_path)

    import django

    django.setup()
    # Per-call INFO lines would time the terminal, not the product.
    logging.getLogger().setLevel(logging.WARNING)


def create_database() -> Callable[[], None]:
    """Create and migrate a scratch test database; return its teardown."""
    from django.db import connection

    test_settings = connection.settings_dict.setdefault("TEST", {})
    if connection.vendor != "sqlite":
        test_settings["NAME"] = f"{connection.settings_dict['NAME']}_bench"
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)

    def destroy() -> None:
        connection.creation.destroy_test_db(old_name, verbosity=0)

    return destroy


def tool_document() -> dict:
    return {
        "agents": [
            {
                "id": AGENT,
                "name": "Bench",
                "description": "Calls one public endpoint.",
                "systemPrompt": "Use the tool.",
                "tools": [
                    {
                        "type": "custom",
                        "name": TOOL,
                        "integration": {"name": "Bench", "domain": HOST},
                        "endpoint": {"method": "GET", "url": f"https://{HOST}/json"},
                        "mockData": [{"mocked": True}],
                    }
                ],
            }
        ]
    }


def approved_run() -> tuple[str, str]:
    """Create an owner, a workspace and an approved app; return a run id and token."""
    from apps.accounts.models import User
    from apps.agents.selectors import agents_state_for_files
    from apps.agents.services import agents_approve
    from apps.applications.drafts import draft_write, serialise_json_file
    from apps.applications.models import AGENTS_FILE
    from apps.applications.services import app_create
    from apps.audit.services import Actor, Source
    from apps.execution.runs import run_create
    from apps.workspaces.services import workspace_create

    user = User.objects.create_user(username="bench", email="bench@example.test")
    workspace = workspace_create(owner=user, name="Bench", slug="bench")
    actor = Actor.for_user(user)
    app = app_create(
        workspace=workspace,
        name="Latency",
        description="",
        user=user,
        actor=actor,
        source=Source(),
    )
    draft_write(
        app=app,
        changes={AGENTS_FILE: serialise_json_file(tool_document())},
        actor=actor,
        source=Source(),
    )
    state = agents_state_for_files(app=app, files=app.snapshots.get().files)
    agents_approve(
        app=app,
        seen_hash=state.hash,
        user=user,
        role="owner",
        source="builder",
        audit_source=Source(),
    )
    run, token = run_create(
        app=app,
        agent_id=AGENT,
        prompt="",
        source_version="draft",
        user=user,
        actor=actor,
        source=Source(),
    )
    return str(run.pk), token


def direct_call(server: UpstreamServer, ca: TestCA) -> Callable[[], None]:
    import requests

    url = server.direct_url("/json")

    def call() -> None:
        response = requests.get(url, verify=str(ca.pem_path), timeout=10)
        if response.status_code != 200:
            raise RuntimeError(f"direct call returned {response.status_code}")

    return call


def tool_execute_call(run_id: str, token: str) -> Callable[[], None]:
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    body = json.dumps({"runId": run_id, "toolName": TOOL, "toolInput": {}})

    def call() -> None:
        response = client.post(
            "/api/internal/tool-execute", data=body, content_type="application/json"
        )
        if response.status_code != 200 or response.json().get("mock") is not False:
            raise RuntimeError(
                f"tool-execute returned {response.status_code}: "
                f"{response.content[:300]!r}"
            )

    return call


def measure(label: str, call: Callable[[], None], calls: int) -> Figures:
    for _ in range(WARMUP_CALLS):
        call()

    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)

    median = statistics.median(samples) * 1000
    p99 = (
        statistics.quantiles(samples, n=100, method="inclusive")[98] * 1000
        if len(samples) > 1
        else median
    )
    return Figures(label=label, median_ms=median, p99_ms=p99)


def start_worker(log_path: Path):
    """Start a worker on the scratch database and send tasks to it from here."""
    from django.conf import settings
    from django.db import connection

    from config.celery import app as celery_app
    from tests.support.worker import WorkerProcess

    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        raise SystemExit("--worker needs DATABASE_URL (PostgreSQL) and REDIS_URL")
    celery_app.control.purge()
    # The worker takes its tasks from the broker, so it runs with eager tasks
    # off, as production settings have it; see bench/worker_settings.py.
    worker = WorkerProcess(
        {"DJANGO_SETTINGS_MODULE": "bench.worker_settings"}, log_path
    ).start()
    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_app.conf.task_always_eager = False
    return worker


def report(figures: list[Figures], calls: int) -> None:
    """Write the figures as a table, one path a line, to standard output."""
    base = figures[0]
    lines = [
        f"{calls} calls per path, after {WARMUP_CALLS} warm-up calls",
        f"{'path':<34} {'median ms':>10} {'p99 ms':>10} {'x median':>9} {'x p99':>7}",
    ]
    for item in figures:
        median_ratio = item.median_ms / base.median_ms
        p99_ratio = item.p99_ms / base.p99_ms
        lines.append(
            f"{item.label:<34} {item.median_ms:>10.2f} {item.p99_ms:>10.2f} "
            f"{median_ratio:>9.1f} {p99_ratio:>7.1f}"
        )
    sys.stdout.write("\n".join(lines) + "\n")


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="second-bench-") as scratch:
        ca = make_test_ca(Path(scratch))
        with UpstreamServer(names=(HOST,), tls_ca=ca) as server:
            configure_django(server, ca)
            destroy_database = create_database()
            worker = None
            try:
                figures = [
                    measure("(a) requests, direct", direct_call(server, ca), args.calls)
                ]
                run_id, token = approved_run()
                figures.append(
                    measure(
                        "(b) tool-execute, eager",
                        tool_execute_call(run_id, token),
                        args.calls,
                    )
                )
                if args.worker:
                    worker = start_worker(Path(scratch) / "worker.log")
                    figures.append(
                        measure(
                            "(c) tool-execute, Celery worker",
                            tool_execute_call(run_id, token),
                            args.calls,
                        )
                    )
            finally:
                if worker is not None:
                    worker.stop()
                destroy_database()
    report(figures, args.calls)


if __name__ == "__main__":
    main()
