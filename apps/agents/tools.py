"""Approved tools: lookup in an approved payload, spec matching and security review.

`payload` everywhere here is the hash form of an agents.json document, that is
`hashing.drop_empty(document)`, as an approval stores it. Normalisation of the
integration (name, domain, keySlug, auth) serves matching and grant lookup only,
never the hash.
"""

import copy
import logging
import re
from dataclasses import dataclass
from typing import Any

from apps.agents.domains import DomainError, normalize_domain
from apps.agents.hashing import canonical_json
from apps.agents.placeholders import endpoint_split
from apps.agents.validation import tool_kind

logger = logging.getLogger(__name__)

DEFAULT_KEY_SLUG = "default"
DEFAULT_TOKEN_AUTH_METHOD = "client_secret_post"

_KEY_SLUG_INVALID_RUN = re.compile(r"[^a-z0-9-]+")
_KEY_SLUG_DASH_RUN = re.compile(r"-{2,}")


@dataclass(frozen=True)
class ToolSpec:
    """An approved custom tool as the worker runs it.

    `agent_id` is None for an app tool. `integration` is normalised as
    `normalize_integration` does it, and `endpoint` is the approved template.
    """

    agent_id: str | None
    name: str
    kind: str
    integration: dict
    endpoint: dict
    mock_data: list
    enabled: bool

    def as_tool_dict(self) -> dict:
        """Return the `{endpoint, integration}` part in agents.json form."""
        return {"endpoint": self.endpoint, "integration": self.integration}


@dataclass(frozen=True)
class SecurityChange:
    """One security-relevant difference of a new payload against an approved one.

    `before` is None when the value is new.
    """

    category: str
    subject: str
    before: str | None
    after: str


def normalize_key_slug(value: Any) -> str:
    """Return `value` lower-cased with runs of other characters than [a-z0-9-] as '-'.

    A missing value, or one without a letter or digit, gives `default`.
    """
    if not isinstance(value, str):
        return DEFAULT_KEY_SLUG

    slug = _KEY_SLUG_INVALID_RUN.sub("-", value.strip().lower())
    slug = _KEY_SLUG_DASH_RUN.sub("-", slug).strip("-")
    return slug or DEFAULT_KEY_SLUG


def normalize_auth(auth: Any) -> dict | None:
    """Return OAuth metadata with its defaults filled in and scopes sorted, or None."""
    if not isinstance(auth, dict):
        return None

    normalized = copy.deepcopy(auth)
    normalized.setdefault("tokenAuthMethod", DEFAULT_TOKEN_AUTH_METHOD)
    normalized.setdefault("authorizationParams", {})
    normalized.setdefault("tokenParams", {})

    scopes = normalized.get("scopes")
    if isinstance(scopes, list) and all(isinstance(scope, str) for scope in scopes):
        # Scope order carries no meaning in OAuth 2.0 (RFC 6749 section 3.3).
        normalized["scopes"] = sorted(set(scopes))
    return normalized


def normalize_integration(integration: Any) -> dict:
    """Return an integration with name, domain, keySlug and auth normalised.

    An invalid domain is kept lower-cased, so it can never match a valid one.
    """
    source = integration if isinstance(integration, dict) else {}
    name = source.get("name")
    domain = source.get("domain")

    normalized: dict[str, Any] = {
        "name": name.strip() if isinstance(name, str) else name,
        "domain": _normalized_domain_or_raw(domain),
        "keySlug": normalize_key_slug(source.get("keySlug")),
    }
    auth = normalize_auth(source.get("auth"))
    if auth is not None:
        normalized["auth"] = auth
    return normalized


def _normalized_domain_or_raw(domain: Any) -> Any:
    if not isinstance(domain, str):
        return domain
    try:
        return normalize_domain(domain)
    except DomainError:
        return domain.strip().lower()


# Lookup


def find_agent_tool(payload: Any, agent_id: str, tool_name: str) -> ToolSpec | None:
    """Return the enabled custom tool `tool_name` of agent `agent_id`, or None."""
    agent = _find_agent(payload, agent_id)
    if agent is None:
        return None
    return _find_custom_tool(agent.get("tools"), tool_name, agent_id)


def find_app_tool(payload: Any, tool_name: str) -> ToolSpec | None:
    """Return the enabled app tool `tool_name` from `appTools`, or None."""
    if not isinstance(payload, dict):
        return None
    return _find_custom_tool(payload.get("appTools"), tool_name, None)


def agent_config(payload: Any, agent_id: str) -> dict | None:
    """Return a copy of agent `agent_id` of the payload, or None."""
    agent = _find_agent(payload, agent_id)
    return copy.deepcopy(agent) if agent is not None else None


def _find_agent(payload: Any, agent_id: str) -> dict | None:
    agents = payload.get("agents") if isinstance(payload, dict) else None
    if not isinstance(agents, list):
        return None
    for agent in agents:
        if isinstance(agent, dict) and agent.get("id") == agent_id:
            return agent
    return None


def _find_custom_tool(
    tools: Any, tool_name: str, agent_id: str | None
) -> ToolSpec | None:
    if not isinstance(tools, list):
        return None
    for tool in tools:
        if not isinstance(tool, dict) or tool.get("type", "custom") != "custom":
            continue
        if tool.get("name") == tool_name and tool.get("enabled", True) is True:
            return _tool_spec(tool, agent_id)
    return None


def _tool_spec(tool: dict, agent_id: str | None) -> ToolSpec:
    mock_data = tool.get("mockData")
    return ToolSpec(
        agent_id=agent_id,
        name=tool["name"],
        kind=tool_kind(tool),
        integration=normalize_integration(tool.get("integration")),
        endpoint=copy.deepcopy(tool.get("endpoint") or {}),
        mock_data=copy.deepcopy(mock_data) if isinstance(mock_data, list) else [],
        enabled=True,
    )


# Matching a caller's copy


def spec_fingerprint(tool: Any) -> str:
    """Return stable JSON of a tool's `{endpoint, integration}`, integration normalised.

    Raises ValueError when the tool contains values JSON cannot carry.
    """
    source = tool if isinstance(tool, dict) else {}
    return canonical_json(
        {
            "endpoint": source.get("endpoint"),
            "integration": normalize_integration(source.get("integration")),
        }
    )


def tool_spec_matches(approved: ToolSpec, sent: Any) -> bool:
    """Tell whether a caller's tool spec equals the approved one after normalisation."""
    if not isinstance(sent, dict):
        return False
    try:
        return spec_fingerprint(sent) == spec_fingerprint(approved.as_tool_dict())
    except ValueError:
        return False


def oauth_tool_auths(payload: Any) -> list[dict]:
    """Return the `integration.auth` of every OAuth tool of agents and appTools."""
    auths = []
    if not isinstance(payload, dict):
        return auths
    tools = [
        tool
        for agent in _dicts(payload.get("agents"))
        for tool in _custom_tools(agent.get("tools"))
    ] + _custom_tools(payload.get("appTools"))
    for tool in tools:
        integration = tool.get("integration")
        auth = integration.get("auth") if isinstance(integration, dict) else None
        if isinstance(auth, dict) and auth.get("type") == "oauth2":
            auths.append(auth)
    return auths


# Security review


def security_summary(payload: Any) -> dict[str, list[str]]:
    """List what a payload lets tools reach, for the admin review page.

    Keys: domains, endpoints (`METHOD url`), scopes, tokenUrls, authorizationUrls,
    secretNames and dataCollections, each sorted and without repeats.
    """
    surfaces = _tool_surfaces(payload)
    collections = _data_collections(payload)
    return {
        "domains": _collect(surfaces, "domain"),
        "endpoints": _collect(surfaces, "endpoint"),
        "scopes": _collect(surfaces, "scope"),
        "tokenUrls": _collect(surfaces, "tokenUrl"),
        "authorizationUrls": _collect(surfaces, "authorizationUrl"),
        "secretNames": _collect(surfaces, "secretName"),
        "dataCollections": sorted(set().union(*collections.values())),
    }


def security_diff(old_payload: Any, new_payload: Any) -> list[SecurityChange]:
    """List the security-relevant values that `new_payload` adds or changes.

    A tool is identified by its agent id and name. Removed tools and values are not
    listed, because removing them grants nothing new.
    """
    old_surfaces = _tool_surfaces(old_payload)
    changes: list[SecurityChange] = []

    for subject, surface in _tool_surfaces(new_payload).items():
        changes.extend(
            _surface_changes(subject, old_surfaces.get(subject, {}), surface)
        )

    old_collections = _data_collections(old_payload)
    for subject, names in _data_collections(new_payload).items():
        for name in sorted(names - old_collections.get(subject, set())):
            changes.append(SecurityChange("dataCollection", subject, None, name))
    return changes


# Categories with one value per tool, where a different value is a change.
_SINGLE_VALUE_CATEGORIES = ("domain", "method", "url", "tokenUrl", "authorizationUrl")

# Categories with a set per tool, of which only new members are listed.
_SET_CATEGORIES = ("scope", "secretName")


def _surface_changes(subject: str, old: dict, new: dict) -> list[SecurityChange]:
    changes: list[SecurityChange] = []
    for category in _SINGLE_VALUE_CATEGORIES:
        before, after = old.get(category), new.get(category)
        if after is not None and before != after:
            changes.append(SecurityChange(category, subject, before, after))

    for category in _SET_CATEGORIES:
        added = new.get(category, set()) - old.get(category, set())
        for value in sorted(added):
            changes.append(SecurityChange(category, subject, None, value))
    return changes


def _collect(surfaces: dict[str, dict], category: str) -> list[str]:
    values: set[str] = set()
    for surface in surfaces.values():
        value = surface.get(category)
        if isinstance(value, set):
            values |= value
        elif value is not None:
            values.add(value)
    return sorted(values)


def _tool_surfaces(payload: Any) -> dict[str, dict]:
    """Map "agent ID, tool NAME" or "app tool NAME" to the tool's reachable values."""
    surfaces: dict[str, dict] = {}
    if not isinstance(payload, dict):
        return surfaces

    for agent in _dicts(payload.get("agents")):
        for tool in _custom_tools(agent.get("tools")):
            subject = f"agent {agent.get('id')}, tool {tool.get('name')}"
            surfaces[subject] = tool_surface(tool)

    for tool in _custom_tools(payload.get("appTools")):
        surfaces[f"app tool {tool.get('name')}"] = tool_surface(tool)
    return surfaces


def tool_surface(tool: dict) -> dict:
    """Return what a custom tool reaches: single values, and sets of scopes and
    secret names. Values of the wrong type are left out."""
    integration = normalize_integration(tool.get("integration"))
    endpoint = tool.get("endpoint") if isinstance(tool.get("endpoint"), dict) else {}
    auth = integration.get("auth") or {}
    method, url = endpoint.get("method"), endpoint.get("url")

    surface: dict[str, Any] = {
        "domain": _text_or_none(integration.get("domain")),
        "method": _text_or_none(method),
        "url": _text_or_none(url),
        "endpoint": _endpoint_label(method, url),
        "tokenUrl": _text_or_none(auth.get("tokenUrl")),
        "authorizationUrl": _text_or_none(auth.get("authorizationUrl")),
        "scope": _string_set(auth.get("scopes")),
        "secretName": set(endpoint_split(endpoint).secret_names),
    }
    return surface


def _endpoint_label(method: Any, url: Any) -> str | None:
    if isinstance(method, str) and isinstance(url, str):
        return f"{method} {url}"
    return None


def _data_collections(payload: Any) -> dict[str, set[str]]:
    collections: dict[str, set[str]] = {}
    agents = payload.get("agents") if isinstance(payload, dict) else None
    for agent in _dicts(agents):
        names = agent.get("dataCollections")
        if isinstance(names, list):
            subject = f"agent {agent.get('id')}"
            collections[subject] = {name for name in names if isinstance(name, str)}
    return collections


def _dicts(values: Any) -> list[dict]:
    if not isinstance(values, list):
        return []
    return [value for value in values if isinstance(value, dict)]


def _custom_tools(tools: Any) -> list[dict]:
    return [tool for tool in _dicts(tools) if tool.get("type", "custom") == "custom"]


def _string_set(values: Any) -> set[str]:
    # A draft may be invalid: a bare string or a list of objects is no scope list.
    if not isinstance(values, list):
        return set()
    return {value for value in values if isinstance(value, str)}


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
