"""The state a tool call carries through the pipeline, and its final result."""

from dataclasses import dataclass, field

from apps.agents.tools import ToolSpec
from apps.applications.models import App
from apps.execution.models import AgentRun, ToolCall
from apps.integrations.models import IntegrationGrant


@dataclass
class CallContext:
    """The facts the steps have established so far about one tool call."""

    tool_call: ToolCall
    app: App
    run: AgentRun | None
    approval_hash: str = ""
    payload: dict | None = None
    mock_only: bool = False
    spec: ToolSpec | None = None
    grant: IntegrationGrant | None = None
    # Decrypted secret values live here for this call only and are dropped with
    # the context when the call ends.
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    # The OAuth access token of the triggering user's account, for this call only.
    oauth_token: str = field(default="", repr=False)
    injected: tuple[str, ...] = field(default=(), repr=False)
    upstream_sent: bool = False


@dataclass
class Final:
    """The end of a call: an outcome, the HTTP status and body, and its audit facts.

    `outcome` is executed, failed, mocked or denied; `body` is what the caller
    gets; `reason` is a short fact for the audit event.
    """

    outcome: str
    http_status: int
    body: dict
    reason: str = ""
    error_code: str = ""
    error_category: str = ""
    mock_reason: str = ""
    upstream_status: int | None = None
    upstream_host: str = ""
    request_bytes: int = 0
    response_bytes: int = 0
    audit_metadata: dict = field(default_factory=dict)
