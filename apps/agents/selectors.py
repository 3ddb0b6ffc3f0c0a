"""The approval state of an app's agents.json, computed on every read and call.

Staleness is never stored: the draft is re-hashed with the schema version of the
approval's hash each time, and compared with the live approvals of the app.
"""

from dataclasses import dataclass, field

from apps.agents.hashing import agents_hash, parse_json_text
from apps.agents.models import AgentsApproval
from apps.agents.validation import Problem, validate_agents_json
from apps.applications.models import AGENTS_FILE


@dataclass(frozen=True)
class AgentsState:
    """The draft or published agents.json with its hash and approval state.

    `state` is `none`, `invalid`, `unapproved`, `approved`, `mock_only` or
    `stale`; `approval` is the approval that applies (live, or mock-only for the
    `mock_only` state) and `latest_approval` the newest live one, stale or not.
    """

    state: str
    document: object = None
    hash: str | None = None
    problems: list[Problem] = field(default_factory=list)
    approval: AgentsApproval | None = None
    latest_approval: AgentsApproval | None = None

    @property
    def mock_only(self) -> bool:
        return self.state == "mock_only"


def parse_agents_text(text: str) -> tuple[object, list[Problem]]:
    try:
        document = parse_json_text(text)
    except ValueError as error:
        return None, [Problem("$", f"agents.json is not valid JSON: {error}")]
    return document, validate_agents_json(document)


def _live_approvals(app):
    return AgentsApproval.objects.filter(
        app=app, mock_only=False, revoked_at__isnull=True
    ).select_related("approved_by")


def agents_state_for_files(*, app, files: dict[str, str]) -> AgentsState:
    """Return the approval state of the agents.json in `files` for `app`."""
    text = files.get(AGENTS_FILE)
    if text is None:
        return AgentsState(state="none")
    document, problems = parse_agents_text(text)
    if problems:
        return AgentsState(state="invalid", document=document, problems=problems)

    digest = agents_hash(document)
    live = _live_approvals(app)
    latest = live.first()
    matching = live.filter(hash=digest).first()
    if matching is not None:
        return AgentsState("approved", document, digest, [], matching, latest)

    mock = AgentsApproval.objects.filter(
        app=app, mock_only=True, revoked_at__isnull=True, hash=digest
    ).first()
    if mock is not None:
        return AgentsState("mock_only", document, digest, [], mock, latest)
    state = "stale" if latest is not None else "unapproved"
    return AgentsState(state, document, digest, [], None, latest)


def approval_summary(state: AgentsState, *, source_kind: str = "draft") -> dict:
    """Return the `approval` object of the agents routes."""
    approval = state.approval or state.latest_approval
    body = {
        "state": state.state,
        "approvedHash": approval.hash if approval else None,
        "approvedBy": (
            {"id": str(approval.approved_by_id), "name": approval.approved_by_name}
            if approval
            else None
        ),
        "approvedAt": approval.approved_at.isoformat() if approval else None,
        "source": approval.source if approval else None,
        "mockOnly": state.mock_only,
    }
    return body
