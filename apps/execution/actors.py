from apps.audit.services import Actor
from apps.execution.models import AgentRun


def runtime_actor(run: AgentRun) -> Actor:
    """Return the audit actor of what an agent runtime does for `run`."""
    return Actor(kind="agent", id=run.agent_id, display=f"agent {run.agent_id}")
