"""The egress verdict of an approved tool, for the admin's approval page.

It runs `check_destination`, the rules `manage.py egress_check` and the pipeline
apply, on the tool's endpoint with its placeholders filled by a neutral value,
and opens no connection. Placeholders may sit in the path and query only, so
the filled value never changes the host that is judged.
"""

from dataclasses import dataclass

from apps.agents.placeholders import fill_placeholders
from apps.execution.egress.client import EgressPolicy, check_destination
from apps.execution.egress.deadline import Deadline
from apps.execution.egress.errors import EgressError

# A page shows one verdict per tool, so each lookup gets a short deadline.
VERDICT_DEADLINE_SECONDS = 3.0


@dataclass(frozen=True)
class ToolVerdict:
    tool: str
    url: str
    line: str  # `allowed <host> <address>` or `rejected <code> <reason>`

    @property
    def allowed(self) -> bool:
        return self.line.startswith("allowed ")


def tool_verdict(*, tool: str, url: str, domain: str) -> ToolVerdict:
    """Judge one tool's endpoint as `egress_check URL --domain D` would."""
    filled = fill_placeholders(url)
    policy = EgressPolicy(allowed_domain=domain, purpose="admin_verdict")
    try:
        destination = check_destination(
            filled, policy=policy, deadline=Deadline(VERDICT_DEADLINE_SECONDS)
        )
    except EgressError as error:
        return ToolVerdict(tool, url, f"rejected {error.code} {error.reason or '-'}")
    host = destination.parsed.host
    return ToolVerdict(tool, url, f"allowed {host} {destination.address_to_dial}")
