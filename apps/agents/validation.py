"""Validation of agents.json: the JSON Schema plus the semantic rules.

`validate_agents_json` lists every problem with the JSON path it concerns, so a
builder can fix a document in one pass. An empty list means the document may be
presented for approval; it does not tell whether anyone approved it.
"""

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlsplit

from jsonschema import Draft202012Validator, SchemaError, ValidationError

from apps.agents.credentials import oauth_auth_problems
from apps.agents.domains import (
    DomainError,
    domain_problems,
    host_matches_domain,
    is_loopback_literal,
    is_product_origin,
    local_mode,
    normalize_domain,
)
from apps.agents.placeholders import (
    PlaceholderUse,
    child_path,
    endpoint_placeholders,
    is_secret_placeholder,
    iter_keys,
    iter_strings,
    malformed_placeholders,
    names_in_text,
    secret_name,
)
from apps.agents.schema import RESERVED_TOOL_NAMES, agents_json_validator

logger = logging.getLogger(__name__)

PUBLIC = "public"
STATIC = "static"
OAUTH2 = "oauth2"

AUTHORIZATION_HEADERS = frozenset({"authorization", "proxy-authorization"})

# Headers that frame or route the request; the egress client sets them itself,
# so a template that sets one could smuggle a second request or change the host.
RESERVED_HEADERS = frozenset(
    {
        "connection",
        "content-length",
        "host",
        "keep-alive",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

# Segments of an input placeholder name that mark it as a credential. Names are
# split on ".", "_", "-" and camelCase humps, so `{{apiKey}}`, `{{api_key}}` and
# `{{auth.token}}` all match while `{{author}}` or `{{monkey}}` do not.
SECRET_WORDS = frozenset(
    {
        "apikey",
        "auth",
        "authorization",
        "bearer",
        "cookie",
        "credential",
        "credentials",
        "jwt",
        "passphrase",
        "passwd",
        "password",
        "pwd",
        "secret",
        "secrets",
        "session",
        "sessionid",
        "token",
        "tokens",
    }
)

# `key` marks a credential only after one of these words: `{{api_key}}` and
# `{{private_key}}` are secrets, while `{{issue_key}}` is ordinary input.
SECRET_KEY_QUALIFIERS = frozenset(
    {"access", "api", "client", "encryption", "license", "master", "private", "secret"}
    | {"signing", "subscription"}
)

# `token` after one of these words is a pagination cursor that APIs hand back to
# the caller (`pageToken`, `next_token`), not a credential.
PAGINATION_QUALIFIERS = frozenset(
    {"continuation", "cursor", "next", "page", "prev", "previous", "resume", "sync"}
)

_NAME_SEGMENT_PATTERN = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")

# RFC 9110 field names are tokens.
_HEADER_NAME_PATTERN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")

# Characters that URL parsers disagree on, so the host a check reads could differ
# from the host a client dials.
_AMBIGUOUS_URL_CHARACTERS = re.compile(r"[\s\\\x00-\x1f\x7f]")

_KEY_SLUG_CHARACTER = re.compile(r"[A-Za-z0-9]")


@dataclass(frozen=True)
class Problem:
    """One validation problem: the JSON path it concerns and what to change."""

    path: str
    message: str


def validate_agents_json(document: Any) -> list[Problem]:
    """Return every schema and semantic problem of an agents.json document."""
    problems = list(_schema_problems(document))

    if isinstance(document, dict):
        problems.extend(_top_level_problems(document))
        problems.extend(_agents_problems(document.get("agents")))
        problems.extend(_app_tools_problems(document.get("appTools")))

    return list(dict.fromkeys(problems))


def tool_kind(tool: Any) -> str:
    """Return `oauth2`, `static` (uses `{{secrets.NAME}}`) or `public` for a tool."""
    integration = tool.get("integration") if isinstance(tool, dict) else None
    if isinstance(integration, dict) and isinstance(integration.get("auth"), dict):
        return OAUTH2

    endpoint = tool.get("endpoint") if isinstance(tool, dict) else None
    for use in endpoint_placeholders(endpoint):
        if is_secret_placeholder(use.name):
            return STATIC
    return PUBLIC


# Schema problems


def _schema_problems(document: Any) -> Iterator[Problem]:
    validator = agents_json_validator()
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    for error in errors:
        yield from _problems_from_error(error)


def _error_path(error: ValidationError) -> str:
    path = "$"
    for part in error.absolute_path:
        path = child_path(path, part)
    return path


def _problems_from_error(error: ValidationError) -> Iterator[Problem]:
    path = _error_path(error)

    if error.validator == "required":
        for name in error.validator_value:
            if isinstance(error.instance, dict) and name not in error.instance:
                yield Problem(
                    child_path(path, name), f"Missing required field {name!r}; add it."
                )
        return

    if error.validator == "additionalProperties":
        yield from _unknown_field_problems(error, path)
        return

    yield Problem(path, _schema_message(error))


def _unknown_field_problems(error: ValidationError, path: str) -> Iterator[Problem]:
    allowed = sorted(error.schema.get("properties", {}))
    for key in error.instance:
        if key not in allowed:
            yield Problem(
                child_path(path, key),
                f"Unknown field {key!r}; the allowed fields here are "
                f"{', '.join(allowed)}.",
            )


def _schema_message(error: ValidationError) -> str:
    validator = error.validator
    value = error.validator_value

    if validator == "type":
        expected = value if isinstance(value, str) else " or ".join(value)
        return f"Expected {expected}, got {_json_type(error.instance)}."
    if validator == "enum":
        return f"{_short(error.instance)} is not allowed; use one of {_choices(value)}."
    if validator == "const":
        return f"{_short(error.instance)} is not allowed; use {value!r}."
    if validator == "minItems":
        return f"The list needs at least {value} item(s)."
    if validator == "pattern":
        return _pattern_message(error)
    if validator == "anyOf":
        return (
            f"{_short(error.instance)} is not allowed; use a string, number, boolean "
            "or a list of them."
        )
    return error.message


def _pattern_message(error: ValidationError) -> str:
    if error.validator_value == r"\S":
        return "The value is blank; give a non-empty string."
    return (
        f"{_short(error.instance)} is not a valid name; use 1 to 64 letters, digits, "
        "'_' or '-'."
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _choices(values: list) -> str:
    return ", ".join(repr(value) for value in values)


# Top level and agents


def _top_level_problems(document: dict) -> Iterator[Problem]:
    agents = document.get("agents")
    app_tools = document.get("appTools")
    if not agents and not app_tools:
        yield Problem(
            "$",
            "The document has no agents and no appTools; add at least one agent or "
            "one app tool.",
        )


def _agents_problems(agents: Any) -> Iterator[Problem]:
    if not isinstance(agents, list):
        return

    yield from _duplicate_agent_ids(agents)

    for index, agent in enumerate(agents):
        if isinstance(agent, dict):
            yield from _agent_problems(agent, child_path("$.agents", index))


def _duplicate_agent_ids(agents: list) -> Iterator[Problem]:
    first_seen: dict[str, str] = {}
    for index, agent in enumerate(agents):
        agent_id = agent.get("id") if isinstance(agent, dict) else None
        if not isinstance(agent_id, str):
            continue
        path = child_path(child_path("$.agents", index), "id")
        if agent_id in first_seen:
            yield Problem(
                path,
                f"Duplicate agent id {agent_id!r}, already used at "
                f"{first_seen[agent_id]}; give each agent its own id.",
            )
        else:
            first_seen[agent_id] = path


def _agent_problems(agent: dict, path: str) -> Iterator[Problem]:
    tools = agent.get("tools")
    if not isinstance(tools, list):
        return

    tools_path = child_path(path, "tools")
    yield from _duplicate_tool_names(tools, tools_path)
    yield from _builtin_with_custom_problems(tools, tools_path)

    for index, tool in enumerate(tools):
        if isinstance(tool, dict) and tool.get("type") == "custom":
            yield from _custom_tool_problems(tool, child_path(tools_path, index))


def _app_tools_problems(app_tools: Any) -> Iterator[Problem]:
    if not isinstance(app_tools, list):
        return

    yield from _duplicate_tool_names(app_tools, "$.appTools")

    for index, tool in enumerate(app_tools):
        if isinstance(tool, dict):
            yield from _custom_tool_problems(tool, child_path("$.appTools", index))


def _duplicate_tool_names(tools: list, tools_path: str) -> Iterator[Problem]:
    first_seen: dict[str, str] = {}
    for index, tool in enumerate(tools):
        name = tool.get("name") if isinstance(tool, dict) else None
        if not isinstance(name, str):
            continue
        path = child_path(child_path(tools_path, index), "name")
        if name in first_seen:
            yield Problem(
                path,
                f"Duplicate tool name {name!r}, already used at {first_seen[name]}; "
                "tool names must be unique within an agent and within appTools.",
            )
        else:
            first_seen[name] = path


def _builtin_with_custom_problems(tools: list, tools_path: str) -> Iterator[Problem]:
    has_custom = any(
        isinstance(tool, dict) and tool.get("type") == "custom" for tool in tools
    )
    if not has_custom:
        return

    for index, tool in enumerate(tools):
        if isinstance(tool, dict) and tool.get("type") == "builtin":
            yield Problem(
                child_path(tools_path, index),
                f"The builtin tool {tool.get('name')!r} cannot be combined with custom "
                "tools in one agent; remove it or move the custom tools to another "
                "agent.",
            )


# Custom tools


def _custom_tool_problems(tool: dict, path: str) -> Iterator[Problem]:
    name = tool.get("name")
    if isinstance(name, str) and name in RESERVED_TOOL_NAMES:
        yield Problem(
            child_path(path, "name"),
            f"The tool name {name!r} is reserved for the runtime; choose another name.",
        )

    response_schema = tool.get("responseSchema")
    if isinstance(response_schema, dict):
        yield from _response_schema_problems(response_schema, path)

    integration = tool.get("integration")
    endpoint = tool.get("endpoint")
    kind = tool_kind(tool)
    integration_path = child_path(path, "integration")
    endpoint_path = child_path(path, "endpoint")

    if isinstance(integration, dict):
        yield from _integration_problems(integration, integration_path)
    if isinstance(endpoint, dict):
        domain = integration.get("domain") if isinstance(integration, dict) else None
        yield from _endpoint_url_problems(endpoint.get("url"), domain, endpoint_path)
        yield from _header_problems(endpoint.get("headers"), kind, endpoint_path)
        if kind == PUBLIC:
            yield from _public_query_problems(endpoint, endpoint_path)
        yield from _template_problems(endpoint, kind, endpoint_path)


def _public_query_problems(endpoint: dict, endpoint_path: str) -> Iterator[Problem]:
    """A public tool has no secrets, so a credential-named query value is a
    credential written into agents.json in plain text."""
    url = endpoint.get("url")
    query_names = []
    if isinstance(url, str):
        query_names = [name for name, _ in parse_qsl(urlsplit(url).query)]
    params = endpoint.get("queryParams")
    if isinstance(params, dict):
        query_names.extend(str(name) for name in params)
    for name in query_names:
        if looks_like_secret(name) or name.lower() in ("sig", "signature"):
            yield Problem(
                endpoint_path,
                f"A public tool sends the credential query parameter {name!r}; use "
                "a {{secrets.NAME}} placeholder or remove it.",
            )


def _response_schema_problems(schema: dict, tool_path: str) -> Iterator[Problem]:
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        yield Problem(
            child_path(tool_path, "responseSchema"),
            f"The responseSchema is not a valid JSON Schema ({error.message}); fix it "
            "or remove it.",
        )


def _integration_problems(integration: dict, path: str) -> Iterator[Problem]:
    domain = integration.get("domain")
    if isinstance(domain, str) and domain.strip():
        for message in domain_problems(domain):
            yield Problem(child_path(path, "domain"), message)

    key_slug = integration.get("keySlug")
    if isinstance(key_slug, str) and not _KEY_SLUG_CHARACTER.search(key_slug):
        yield Problem(
            child_path(path, "keySlug"),
            f"The keySlug {key_slug!r} has no letter or digit; use lower-case letters, "
            "digits and '-', or leave it out for 'default'.",
        )

    auth = integration.get("auth")
    if isinstance(auth, dict):
        auth_path = child_path(path, "auth")
        for field in ("authorizationUrl", "tokenUrl"):
            url = auth.get(field)
            if isinstance(url, str) and url.strip():
                yield from _oauth_url_problems(url, child_path(auth_path, field))
        for field, message in oauth_auth_problems(auth):
            yield Problem(child_path(auth_path, field), message)


def _oauth_url_problems(url: str, path: str) -> Iterator[Problem]:
    if names_in_text(url) or malformed_placeholders(url):
        yield Problem(
            path, f"The URL {url!r} contains a placeholder; give a fixed URL."
        )
        return

    parts, message = _parse_url(url)
    if parts is None:
        yield Problem(path, message)
        return

    yield from (Problem(path, text) for text in _url_origin_messages(url, parts))
    host = parts.hostname or ""
    if not (local_mode() and is_loopback_literal(host)):
        yield from (Problem(path, text) for text in domain_problems(host))


def _parse_url(url: str) -> tuple[SplitResult | None, str]:
    if _AMBIGUOUS_URL_CHARACTERS.search(url):
        return None, (
            f"The URL {url!r} contains white space, a backslash or a control "
            "character; percent-encode them."
        )

    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - the property raises ValueError for a bad port.
    except ValueError:
        return None, f"The URL {url!r} has an invalid port; use 443 or none."

    if not parts.hostname:
        return None, f"The URL {url!r} has no host; give an absolute https URL."
    return parts, ""


def _url_origin_messages(url: str, parts: SplitResult) -> list[str]:
    """Check scheme, userinfo, port and the product's origin of a parsed URL."""
    messages: list[str] = []
    host = parts.hostname or ""
    loopback_allowed = local_mode() and is_loopback_literal(host)

    if "@" in parts.netloc:
        messages.append(
            f"The URL {url!r} contains userinfo ('@'); remove it and send credentials "
            "through {{secrets.NAME}} placeholders."
        )
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback_allowed):
        messages.append(
            f"The URL {url!r} must use https; http is accepted only for loopback "
            "addresses in local mode."
        )
    if parts.port not in (None, 443) and not loopback_allowed:
        messages.append(
            f"The URL {url!r} names port {parts.port}; only port 443 is allowed, so "
            "remove the port."
        )
    if is_product_origin(host, parts.port):
        messages.append(
            f"The URL {url!r} points at this product's own address "
            "(SECOND_PUBLIC_URL); tools must not call back into the product."
        )
    return messages


def _endpoint_url_problems(
    url: Any, domain: Any, endpoint_path: str
) -> Iterator[Problem]:
    if not isinstance(url, str) or not url.strip():
        return

    path = child_path(endpoint_path, "url")
    if _authority_has_placeholder(url):
        yield Problem(
            path,
            f"The URL {url!r} has a placeholder in its scheme, userinfo, host or port; "
            "placeholders may appear in the path and query only.",
        )
        return

    parts, message = _parse_url(url)
    if parts is None:
        yield Problem(path, message)
        return

    yield from (Problem(path, text) for text in _url_origin_messages(url, parts))
    yield from _domain_lock_problems(url, parts, domain, path)


def _authority_has_placeholder(url: str) -> bool:
    scheme, separator, rest = url.partition("://")
    if not separator:
        # Without "://" there is no scheme, so placeholders anywhere before the
        # first path character count as sitting in the authority.
        scheme, rest = "", url
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    return "{{" in scheme or "}}" in scheme or "{{" in authority or "}}" in authority


def _domain_lock_problems(
    url: str, parts: SplitResult, domain: Any, path: str
) -> Iterator[Problem]:
    if not isinstance(domain, str):
        return
    try:
        normalized = normalize_domain(domain)
    except DomainError:
        # The domain's own problem is already listed at integration.domain.
        return

    if not host_matches_domain(parts.hostname or "", normalized):
        yield Problem(
            path,
            f"The URL host {parts.hostname!r} is outside the integration domain "
            f"{normalized!r}; use {normalized} or one of its subdomains.",
        )


# Headers and placeholders


def _header_problems(headers: Any, kind: str, endpoint_path: str) -> Iterator[Problem]:
    if not isinstance(headers, dict):
        return

    headers_path = child_path(endpoint_path, "headers")
    seen: dict[str, str] = {}
    for name, value in headers.items():
        header_path = child_path(headers_path, name)
        yield from _header_name_problems(name, header_path, seen)
        if isinstance(value, str) and _CONTROL_CHARACTERS.search(value):
            yield Problem(
                header_path,
                f"The value of header {name!r} contains a control character; remove "
                "it.",
            )
        if name.lower() in AUTHORIZATION_HEADERS:
            yield from _authorization_header_problems(name, kind, header_path)
        elif kind == PUBLIC and looks_like_secret(name):
            yield Problem(
                header_path,
                f"A public tool sends the credential header {name!r}; put the value "
                "in a {{secrets.NAME}} placeholder or remove the header.",
            )
        if name.lower() in RESERVED_HEADERS or name.lower().startswith("proxy-"):
            yield Problem(
                header_path,
                f"The header {name!r} is set by the egress client; remove it.",
            )


def _header_name_problems(
    name: str, header_path: str, seen: dict[str, str]
) -> Iterator[Problem]:
    if not _HEADER_NAME_PATTERN.match(name):
        yield Problem(
            header_path,
            f"{name!r} is not a valid header name; use letters, digits and '-'.",
        )

    folded = name.lower()
    if folded in seen:
        yield Problem(
            header_path,
            f"The header {name!r} repeats {seen[folded]} (header names ignore case); "
            "keep one of them.",
        )
    else:
        seen[folded] = header_path


def _authorization_header_problems(
    name: str, kind: str, header_path: str
) -> Iterator[Problem]:
    if kind == PUBLIC:
        yield Problem(
            header_path,
            f"A public tool sends the {name!r} header; put the credential in a "
            "{{secrets.NAME}} placeholder or remove the header.",
        )
    elif kind == OAUTH2:
        yield Problem(
            header_path,
            f"An OAuth tool sets its own {name!r} header; remove it, because the "
            "worker sends the connected account's access token.",
        )


def _template_problems(
    endpoint: dict, kind: str, endpoint_path: str
) -> Iterator[Problem]:
    yield from _placeholder_key_problems(endpoint, endpoint_path)
    yield from _malformed_placeholder_problems(endpoint, endpoint_path)

    for use in endpoint_placeholders(endpoint, endpoint_path):
        yield from _placeholder_use_problems(use, kind)


def _placeholder_key_problems(endpoint: dict, endpoint_path: str) -> Iterator[Problem]:
    for field in ("headers", "queryParams", "body"):
        value = endpoint.get(field)
        for key_path, key in iter_keys(value, child_path(endpoint_path, field)):
            if "{{" in key or "}}" in key:
                yield Problem(
                    key_path,
                    f"The key {key!r} contains a placeholder; placeholders are "
                    "substituted in values only, so move it into a value.",
                )


def _malformed_placeholder_problems(
    endpoint: dict, endpoint_path: str
) -> Iterator[Problem]:
    for field in ("url", "headers", "queryParams", "body"):
        if field not in endpoint:
            continue
        for string_path, text in iter_strings(
            endpoint[field], child_path(endpoint_path, field)
        ):
            for span in malformed_placeholders(text):
                yield Problem(
                    string_path,
                    f"{span!r} is not a valid placeholder; write {{{{name}}}} with "
                    "letters, digits, '_', '.' or '-' and no spaces.",
                )


def _placeholder_use_problems(use: PlaceholderUse, kind: str) -> Iterator[Problem]:
    if is_secret_placeholder(use.name):
        yield from _secret_placeholder_problems(use, kind)
    elif looks_like_secret(use.name):
        yield Problem(use.path, _secret_looking_message(use.name, kind))


def _secret_placeholder_problems(use: PlaceholderUse, kind: str) -> Iterator[Problem]:
    if secret_name(use.name) is None:
        yield Problem(
            use.path,
            f"{{{{{use.name}}}}} is not a valid secret placeholder; write "
            "{{secrets.NAME}} with a NAME of letters, digits, '_' or '-'.",
        )
    elif kind == OAUTH2:
        yield Problem(
            use.path,
            f"An OAuth tool uses the static secret {{{{{use.name}}}}}; remove it, "
            "because OAuth tools authenticate with the connected account only.",
        )


def _secret_looking_message(name: str, kind: str) -> str:
    if kind == OAUTH2:
        return (
            f"An OAuth tool takes {{{{{name}}}}} from the tool input, which looks like "
            "a token or secret; remove it, because the worker adds the access token."
        )
    return (
        f"{{{{{name}}}}} looks like a credential but would be read from the tool "
        "input, where the agent can see it; use {{secrets." + _suggest(name) + "}}."
    )


def _suggest(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper() or "NAME"


def name_segments(name: str) -> list[str]:
    """Split a placeholder name into lower-case words (dots, '_', '-', camelCase)."""
    return [segment.lower() for segment in _NAME_SEGMENT_PATTERN.findall(name)]


def looks_like_secret(name: str) -> bool:
    """Tell whether an input placeholder name looks like a credential."""
    segments = name_segments(name)
    for index, segment in enumerate(segments):
        previous = segments[index - 1] if index else ""
        if segment in ("token", "tokens") and previous in PAGINATION_QUALIFIERS:
            continue
        if segment in SECRET_WORDS:
            return True
        if segment in ("key", "keys") and previous in SECRET_KEY_QUALIFIERS:
            return True
    # A bare `{{key}}` names nothing but a key, so it is taken for a credential.
    return segments in (["key"], ["keys"])
