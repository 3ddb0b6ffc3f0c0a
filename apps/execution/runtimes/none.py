"""The `none` runtime: the run waits in `running` for a runtime holding its token."""

from apps.execution.models import AgentRun


def start(run: AgentRun) -> None:
    from apps.execution.runs import run_mark_running

    run_mark_running(run_id=run.pk)
