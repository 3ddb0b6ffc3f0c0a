"""The security-relevant difference between an app's approved and draft configuration.

`review_diff` compares two agents.json documents, and optionally two
integration-setup.json documents. It lists every added, removed or changed value
that decides what the app's tools may reach: agents, tools, domains, endpoints,
methods, OAuth scopes and URLs, secret names, permission groups, permissions and
data collections. The owners' approval desk in Django admin renders the list.

Values are compared as `apps.agents.tools` normalises them for matching, so a
domain written as `https://www.Slack.com/` equals `slack.com`, a missing keySlug
equals `default`, and the order of keys, scopes and list entries carries no
meaning. Drafts may be invalid while someone reviews them, so values of the
wrong type are skipped rather than raising.
"""

from dataclasses import dataclass, field
from typing import Any

from apps.agents.tools import normalize_integration, tool_surface

ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"

# Within one subject, the result lists entries in the order of CATEGORIES and
# then of CHANGE_KINDS.
CHANGE_KINDS = (ADDED, REMOVED, CHANGED)

CATEGORIES = (
    "agent",
    "tool",
    "domain",
    "endpoint",
    "method",
    "scope",
    "tokenUrl",
    "authorizationUrl",
    "secretName",
    "permissionGroup",
    "permission",
    "dataCollection",
)

# Single-valued categories of a custom tool, mapped to their key in the surface
# that `tool_surface` returns. "endpoint" is the URL template alone, because the
# method has its own category and a method change should be listed once.
_TOOL_VALUE_KEYS = {
    "domain": "domain",
    "endpoint": "url",
    "method": "method",
    "tokenUrl": "tokenUrl",
    "authorizationUrl": "authorizationUrl",
}

# Set-valued categories of a custom tool, named as in the surface.
_TOOL_SET_CATEGORIES = ("scope", "secretName")

ENABLED = "enabled"
DISABLED = "disabled"


@dataclass(frozen=True)
class Change:
    """One security-relevant difference of the draft against the approved version.

    `change` is "added", "removed" or "changed", and `category` is one of
    CATEGORIES. `subject` names what the value belongs to, such as
    "agent release-notifier, tool send_slack_message". An added value has `before`
    None, and a removed value has `after` None.
    """

    change: str
    category: str
    subject: str
    before: str | None
    after: str | None


@dataclass
class _Facts:
    """The compared values of one side, keyed by (subject, category).

    `values` contains the single-valued categories and `members` the set-valued
    ones.
    A repeated agent id or tool name, which validation rejects, is merged: the
    last single value wins and the sets are joined.
    """

    values: dict[tuple[str, str], str] = field(default_factory=dict)
    members: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    def set_value(self, subject: str, category: str, value: Any) -> None:
        """Store `value` when it is a string."""
        if isinstance(value, str):
            self.values[(subject, category)] = value

    def add_members(self, subject: str, category: str, items: Any) -> None:
        """Add the strings among `items` to the set of (subject, category)."""
        self.members.setdefault((subject, category), set()).update(_strings(items))


def review_diff(
    *,
    approved_agents: Any,
    draft_agents: Any,
    approved_setup: Any = None,
    draft_setup: Any = None,
) -> list[Change]:
    """List what the draft adds, removes and changes against the approved version.

    Each argument is a parsed document or None. With no approved agents.json,
    everything in the draft is added. The list is sorted by subject, then in the
    order of CATEGORIES and CHANGE_KINDS, then by value.
    """
    approved = _facts(approved_agents, approved_setup)
    draft = _facts(draft_agents, draft_setup)

    changes = _value_changes(approved.values, draft.values)
    changes.extend(_member_changes(approved.members, draft.members))
    return sorted(changes, key=_sort_key)


def diff_counts(changes: list[Change]) -> dict[str, int]:
    """Count the changes of each kind, as {"added": n, "removed": n, "changed": n}."""
    counts = dict.fromkeys(CHANGE_KINDS, 0)
    for change in changes:
        if change.change in counts:
            counts[change.change] += 1
    return counts


# Collecting one side


def _facts(agents_document: Any, setup_document: Any) -> _Facts:
    facts = _Facts()
    if isinstance(agents_document, dict):
        _add_agents_document(facts, agents_document)
    if isinstance(setup_document, dict):
        _add_setup_document(facts, setup_document)
    return facts


def _add_agents_document(facts: _Facts, document: dict) -> None:
    for agent in _dicts(document.get("agents")):
        _add_agent(facts, agent)

    for tool in _dicts(document.get("appTools")):
        _add_tool(facts, f"app tool {tool.get('name')}", tool)


def _add_agent(facts: _Facts, agent: dict) -> None:
    # Subjects are written as `apps.agents.tools.security_diff` writes them.
    agent_id = agent.get("id")
    subject = f"agent {agent_id}"
    facts.set_value(subject, "agent", str(agent_id))
    facts.add_members(subject, "dataCollection", agent.get("dataCollections"))

    for tool in _dicts(agent.get("tools")):
        _add_tool(facts, f"{subject}, tool {tool.get('name')}", tool)


def _add_tool(facts: _Facts, subject: str, tool: dict) -> None:
    facts.set_value(subject, "tool", _tool_state(tool))

    # Builtin tools (WebSearch, WebFetch) have no integration or endpoint, so only
    # their enabled state is compared. A tool of an unknown type is treated the
    # same, because `apps.agents.tools` reads custom tools only.
    if tool.get("type", "custom") != "custom":
        return

    surface = tool_surface(tool)
    for category, key in _TOOL_VALUE_KEYS.items():
        facts.set_value(subject, category, surface.get(key))
    for category in _TOOL_SET_CATEGORIES:
        facts.add_members(subject, category, surface.get(category))


def _tool_state(tool: dict) -> str:
    # A missing `enabled` means enabled and any value other than true means
    # disabled, the rule `apps.agents.tools.find_agent_tool` applies to custom tools.
    return ENABLED if tool.get("enabled", True) is True else DISABLED


def _add_setup_document(facts: _Facts, document: dict) -> None:
    for integration in _dicts(document.get("integrations")):
        _add_integration(facts, integration)


def _add_integration(facts: _Facts, integration: dict) -> None:
    normalized = normalize_integration(integration)
    subject = f"integration {normalized['domain']}/{normalized['keySlug']}"

    # The setup sync stores secret names upper-cased, so a change of case alone
    # requests nothing new.
    names = [secret.get("name") for secret in _dicts(integration.get("secrets"))]
    facts.add_members(subject, "secretName", [n.upper() for n in _strings(names)])

    for group in _dicts(integration.get("permissionGroups")):
        name = group.get("name")
        if not isinstance(name, str):
            continue
        facts.add_members(subject, "permissionGroup", [name])
        group_subject = f"{subject}, group {name}"
        facts.add_members(group_subject, "permission", group.get("permissions"))


# Comparing the two sides


def _value_changes(
    approved: dict[tuple[str, str], str], draft: dict[tuple[str, str], str]
) -> list[Change]:
    changes: list[Change] = []
    for subject, category in approved.keys() | draft.keys():
        before = approved.get((subject, category))
        after = draft.get((subject, category))
        if before == after:
            continue

        if before is None:
            kind = ADDED
        elif after is None:
            kind = REMOVED
        else:
            kind = CHANGED
        changes.append(Change(kind, category, subject, before, after))
    return changes


def _member_changes(
    approved: dict[tuple[str, str], set[str]], draft: dict[tuple[str, str], set[str]]
) -> list[Change]:
    changes: list[Change] = []
    for subject, category in approved.keys() | draft.keys():
        before = approved.get((subject, category), set())
        after = draft.get((subject, category), set())

        for value in after - before:
            changes.append(Change(ADDED, category, subject, None, value))
        for value in before - after:
            changes.append(Change(REMOVED, category, subject, value, None))
    return changes


def _sort_key(change: Change) -> tuple:
    return (
        change.subject,
        CATEGORIES.index(change.category),
        CHANGE_KINDS.index(change.change),
        change.before or "",
        change.after or "",
    )


def _dicts(values: Any) -> list[dict]:
    if not isinstance(values, list):
        return []
    return [value for value in values if isinstance(value, dict)]


def _strings(values: Any) -> list[str]:
    if not isinstance(values, list | set | tuple):
        return []
    return [value for value in values if isinstance(value, str)]
