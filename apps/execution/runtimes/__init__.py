"""Runtime adapters: how a new run is handed to the agent runtime.

`SECOND_AGENT_RUNTIME` names the adapter when the run is created; the run task
calls `runtime_start`, which dispatches on the run's stored runtime.
"""

import logging

from django.conf import settings

from apps.execution.models import AgentRun
from apps.execution.runtimes import none, scripted, webhook

logger = logging.getLogger(__name__)

ADAPTERS = {"none": none.start, "webhook": webhook.start, "scripted": scripted.start}


def runtime_start(run: AgentRun) -> None:
    """Hand `run` to its runtime; a failed hand-off fails the run with its reason."""
    adapter = ADAPTERS.get(run.runtime)
    if run.runtime == "scripted" and not settings.SECOND_TEST_MODE:
        adapter = None
    if adapter is None:
        logger.error("unknown runtime: run=%s runtime=%s", run.pk, run.runtime)
        from apps.execution.runs import run_fail

        run_fail(run=run, code="runtime_unavailable", detail="The runtime is unknown.")
        return
    adapter(run)
