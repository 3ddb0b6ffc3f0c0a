"""Tests of agents.json validation: the schema and every semantic rule."""

import copy
from pathlib import Path

import pytest

from apps.agents.hashing import parse_json_text
from apps.agents.schema import AGENTS_JSON_SCHEMA, agents_json_validator
from apps.agents.validation import (
    Problem,
    looks_like_secret,
    tool_kind,
    validate_agents_json,
)

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.agents.json"))

TOOL = "$.agents[0].tools[0]"


def load(name: str) -> dict:
    return parse_json_text((EXAMPLES / f"{name}.agents.json").read_text())


@pytest.fixture(autouse=True)
def public_settings(settings):
    settings.SECOND_LOCAL_MODE = False
    settings.SECOND_PUBLIC = {
        "host": "second.acme.example",
        "origin": "https://second.acme.example",
        "scheme": "https",
        "port": 443,
    }


def paths_of(problems: list[Problem]) -> list[str]:
    return [problem.path for problem in problems]


def test_examples_exist():
    assert len(EXAMPLE_FILES) == 6


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda path: path.name)
def test_example_validates_clean(example):
    document = parse_json_text(example.read_text())

    assert validate_agents_json(document) == []


def test_schema_is_valid_draft_2020_12():
    assert AGENTS_JSON_SCHEMA["$schema"].endswith("/2020-12/schema")
    assert agents_json_validator() is not None


def test_problem_is_frozen():
    problem = Problem("$", "message")

    with pytest.raises(AttributeError):
        problem.path = "$.x"  # type: ignore[misc]


def _tool(document: dict) -> dict:
    return document["agents"][0]["tools"][0]


def _set_header(name: str, value: str):
    def mutate(document: dict) -> None:
        _tool(document)["endpoint"].setdefault("headers", {})[name] = value

    return mutate


def _set_body(key: str, value):
    def mutate(document: dict) -> None:
        _tool(document)["endpoint"].setdefault("body", {})[key] = value

    return mutate


def _set_url(url: str):
    def mutate(document: dict) -> None:
        _tool(document)["endpoint"]["url"] = url

    return mutate


def _set_integration(key: str, value):
    def mutate(document: dict) -> None:
        _tool(document)["integration"][key] = value

    return mutate


def _set_auth(key: str, value):
    def mutate(document: dict) -> None:
        _tool(document)["integration"]["auth"][key] = value

    return mutate


def _delete(*keys):
    def mutate(document: dict) -> None:
        target = document
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return mutate


def _duplicate_agent(document: dict) -> None:
    document["agents"].append(copy.deepcopy(document["agents"][0]))


def _duplicate_tool(document: dict) -> None:
    tools = document["agents"][0]["tools"]
    tools.append(copy.deepcopy(tools[0]))


def _duplicate_app_tool(document: dict) -> None:
    document["appTools"].append(copy.deepcopy(document["appTools"][0]))


def _add_builtin(document: dict) -> None:
    tools = document["agents"][0]["tools"]
    tools.append({"type": "builtin", "name": "WebSearch", "enabled": True})


def _rename_tool(name: str):
    def mutate(document: dict) -> None:
        _tool(document)["name"] = name

    return mutate


REJECTIONS = [
    # (case id, example, mutation, JSON path, fragment of the message)
    (
        "missing agent name",
        "slack-notifier",
        _delete("agents", 0, "name"),
        "$.agents[0].name",
        "Missing required field 'name'",
    ),
    (
        "missing endpoint method",
        "slack-notifier",
        lambda d: _tool(d)["endpoint"].pop("method"),
        f"{TOOL}.endpoint.method",
        "Missing required field",
    ),
    (
        "missing integration domain",
        "slack-notifier",
        lambda d: _tool(d)["integration"].pop("domain"),
        f"{TOOL}.integration.domain",
        "Missing required field",
    ),
    (
        "missing oauth scopes",
        "hubspot-lookup",
        lambda d: _tool(d)["integration"]["auth"].pop("scopes"),
        f"{TOOL}.integration.auth.scopes",
        "Missing required field",
    ),
    (
        "empty oauth scopes",
        "hubspot-lookup",
        _set_auth("scopes", []),
        f"{TOOL}.integration.auth.scopes",
        "at least 1",
    ),
    (
        "wrong oauth identity",
        "hubspot-lookup",
        _set_auth("identity", "service_account"),
        f"{TOOL}.integration.auth.identity",
        "triggering_user",
    ),
    (
        "unknown token auth method",
        "hubspot-lookup",
        _set_auth("tokenAuthMethod", "private_key_jwt"),
        f"{TOOL}.integration.auth.tokenAuthMethod",
        "client_secret_post",
    ),
    (
        "lower-case method",
        "slack-notifier",
        lambda d: _tool(d)["endpoint"].update(method="post"),
        f"{TOOL}.endpoint.method",
        "'POST'",
    ),
    (
        "misspelt endpoint field",
        "slack-notifier",
        lambda d: _tool(d)["endpoint"].update(header={"A": "b"}),
        f"{TOOL}.endpoint.header",
        "Unknown field 'header'",
    ),
    (
        "header value not a string",
        "slack-notifier",
        _set_header("X-Count", 3),
        f'{TOOL}.endpoint.headers["X-Count"]',
        "Expected string",
    ),
    (
        "unknown builtin",
        "open-meteo-public",
        lambda d: d["agents"].append(
            {
                "id": "web",
                "name": "Web",
                "description": "d",
                "systemPrompt": "p",
                "tools": [{"type": "builtin", "name": "Browser", "enabled": True}],
            }
        ),
        "$.agents[1].tools[0].name",
        "'WebSearch'",
    ),
    (
        "invalid tool name",
        "slack-notifier",
        _rename_tool("send slack message"),
        f"{TOOL}.name",
        "not a valid name",
    ),
    (
        "duplicate agent id",
        "slack-notifier",
        _duplicate_agent,
        "$.agents[1].id",
        "Duplicate agent id 'release-notifier'",
    ),
    (
        "duplicate tool name in agent",
        "slack-notifier",
        _duplicate_tool,
        "$.agents[0].tools[1].name",
        "Duplicate tool name 'send_slack_message'",
    ),
    (
        "duplicate app tool name",
        "posthog-report",
        _duplicate_app_tool,
        "$.appTools[1].name",
        "Duplicate tool name 'fetch_recent_events'",
    ),
    (
        "api_key input placeholder",
        "slack-notifier",
        _set_header("Authorization", "Bearer {{api_key}}"),
        f"{TOOL}.endpoint.headers.Authorization",
        "{{secrets.API_KEY}}",
    ),
    (
        "token input placeholder",
        "slack-notifier",
        _set_body("token", "{{token}}"),
        f"{TOOL}.endpoint.body.token",
        "looks like a credential",
    ),
    (
        "password input placeholder",
        "open-meteo-public",
        lambda d: _tool(d)["endpoint"]["queryParams"].update(pw="{{password}}"),
        f"{TOOL}.endpoint.queryParams.pw",
        "looks like a credential",
    ),
    (
        "client_secret input placeholder",
        "slack-notifier",
        _set_body("nested", {"list": ["{{auth.client_secret}}"]}),
        f"{TOOL}.endpoint.body.nested.list[0]",
        "looks like a credential",
    ),
    (
        "camelCase apiKey in url",
        "open-meteo-public",
        _set_url("https://api.open-meteo.com/v1/forecast?key={{apiKey}}"),
        f"{TOOL}.endpoint.url",
        "looks like a credential",
    ),
    (
        "public tool sends authorization",
        "open-meteo-public",
        _set_header("authorization", "Bearer abc123"),
        f"{TOOL}.endpoint.headers.authorization",
        "A public tool sends the 'authorization' header",
    ),
    (
        "oauth tool with static secret",
        "hubspot-lookup",
        _set_body("extra", "{{secrets.HUBSPOT_KEY}}"),
        f"{TOOL}.endpoint.body.extra",
        "OAuth tool uses the static secret",
    ),
    (
        "oauth tool with token placeholder",
        "hubspot-lookup",
        _set_header("X-Token", "{{access_token}}"),
        f'{TOOL}.endpoint.headers["X-Token"]',
        "An OAuth tool takes {{access_token}}",
    ),
    (
        "oauth tool with own authorization",
        "hubspot-lookup",
        _set_header("AUTHORIZATION", "Bearer fixed"),
        f"{TOOL}.endpoint.headers.AUTHORIZATION",
        "An OAuth tool sets its own",
    ),
    (
        "oauth token url over http",
        "hubspot-lookup",
        _set_auth("tokenUrl", "http://api.hubapi.com/oauth/v1/token"),
        f"{TOOL}.integration.auth.tokenUrl",
        "must use https",
    ),
    (
        "oauth authorization url with userinfo",
        "hubspot-lookup",
        _set_auth("authorizationUrl", "https://user:pw@app.hubspot.com/oauth"),
        f"{TOOL}.integration.auth.authorizationUrl",
        "userinfo",
    ),
    (
        "oauth loopback http outside local mode",
        "hubspot-lookup",
        _set_auth("tokenUrl", "http://127.0.0.1:9000/token"),
        f"{TOOL}.integration.auth.tokenUrl",
        "must use https",
    ),
    (
        "oauth url with placeholder",
        "hubspot-lookup",
        _set_auth("tokenUrl", "https://{{tenant}}.hubapi.com/token"),
        f"{TOOL}.integration.auth.tokenUrl",
        "placeholder",
    ),
    (
        "wildcard domain",
        "slack-notifier",
        _set_integration("domain", "*.slack.com"),
        f"{TOOL}.integration.domain",
        "wildcard",
    ),
    (
        "public suffix domain",
        "slack-notifier",
        _set_integration("domain", "co.uk"),
        f"{TOOL}.integration.domain",
        "public suffix",
    ),
    (
        "ip domain",
        "slack-notifier",
        _set_integration("domain", "1.2.3.4"),
        f"{TOOL}.integration.domain",
        "IP address",
    ),
    (
        "own origin domain",
        "slack-notifier",
        _set_integration("domain", "second.acme.example"),
        f"{TOOL}.integration.domain",
        "own address",
    ),
    (
        "key slug without letters",
        "slack-notifier",
        _set_integration("keySlug", "!!!"),
        f"{TOOL}.integration.keySlug",
        "no letter or digit",
    ),
    (
        "placeholder in scheme",
        "slack-notifier",
        _set_url("{{scheme}}://slack.com/api/chat.postMessage"),
        f"{TOOL}.endpoint.url",
        "placeholder in its scheme",
    ),
    (
        "placeholder in host",
        "slack-notifier",
        _set_url("https://{{workspace}}.slack.com/api/chat.postMessage"),
        f"{TOOL}.endpoint.url",
        "placeholder in its scheme",
    ),
    (
        "placeholder in userinfo",
        "slack-notifier",
        _set_url("https://{{user}}@slack.com/api/chat.postMessage"),
        f"{TOOL}.endpoint.url",
        "placeholder in its scheme",
    ),
    (
        "placeholder in port",
        "slack-notifier",
        _set_url("https://slack.com:{{port}}/api/chat.postMessage"),
        f"{TOOL}.endpoint.url",
        "placeholder in its scheme",
    ),
    (
        "url host outside domain",
        "slack-notifier",
        _set_url("https://evil-slack.com/api/chat.postMessage"),
        f"{TOOL}.endpoint.url",
        "outside the integration domain 'slack.com'",
    ),
    (
        "url not https",
        "slack-notifier",
        _set_url("http://slack.com/api/chat.postMessage"),
        f"{TOOL}.endpoint.url",
        "must use https",
    ),
    (
        "url with other port",
        "slack-notifier",
        _set_url("https://slack.com:8443/api/chat.postMessage"),
        f"{TOOL}.endpoint.url",
        "port 8443",
    ),
    (
        "url with userinfo",
        "slack-notifier",
        _set_url("https://bot:pw@slack.com/api/chat.postMessage"),
        f"{TOOL}.endpoint.url",
        "userinfo",
    ),
    (
        "url with backslash",
        "slack-notifier",
        _set_url("https://evil.example\\@slack.com/api"),
        f"{TOOL}.endpoint.url",
        "backslash",
    ),
    (
        "reserved tool name",
        "slack-notifier",
        _rename_tool("report_tool_call_failed"),
        f"{TOOL}.name",
        "reserved",
    ),
    (
        "builtin next to custom tools",
        "slack-notifier",
        _add_builtin,
        "$.agents[0].tools[1]",
        "cannot be combined with custom tools",
    ),
    (
        "malformed placeholder",
        "slack-notifier",
        _set_body("text", "{{ text }}"),
        f"{TOOL}.endpoint.body.text",
        "not a valid placeholder",
    ),
    (
        "placeholder in key",
        "slack-notifier",
        _set_body("{{field}}", "x"),
        f'{TOOL}.endpoint.body["{{{{field}}}}"]',
        "contains a placeholder",
    ),
    (
        "malformed secret placeholder",
        "slack-notifier",
        _set_header("Authorization", "Bearer {{secrets.SLACK.TOKEN}}"),
        f"{TOOL}.endpoint.headers.Authorization",
        "not a valid secret placeholder",
    ),
    (
        "header names repeat ignoring case",
        "slack-notifier",
        _set_header("content-type", "text/plain"),
        f'{TOOL}.endpoint.headers["content-type"]',
        "repeats",
    ),
    (
        "invalid header name",
        "slack-notifier",
        _set_header("Bad Header", "x"),
        f'{TOOL}.endpoint.headers["Bad Header"]',
        "not a valid header name",
    ),
    (
        "invalid response schema",
        "slack-notifier",
        lambda d: _tool(d).update(responseSchema={"type": "objekt"}),
        f"{TOOL}.responseSchema",
        "not a valid JSON Schema",
    ),
    (
        "header value with newline",
        "slack-notifier",
        _set_header("X-Note", "a\r\nInjected: 1"),
        f'{TOOL}.endpoint.headers["X-Note"]',
        "control character",
    ),
]


@pytest.mark.parametrize(
    ("example", "mutate", "path", "fragment"),
    [case[1:] for case in REJECTIONS],
    ids=[case[0] for case in REJECTIONS],
)
def test_rejection_rule(example, mutate, path, fragment):
    document = load(example)
    mutate(document)

    problems = validate_agents_json(document)
    at_path = [problem.message for problem in problems if problem.path == path]

    assert at_path, problems
    assert any(fragment in message for message in at_path), at_path


@pytest.mark.parametrize(
    "document",
    [{}, {"agents": []}, {"agents": [], "appTools": []}],
    ids=["no keys", "empty agents", "both empty"],
)
def test_document_needs_agents_or_app_tools(document):
    problems = validate_agents_json(document)

    assert paths_of(problems) == ["$"]


@pytest.mark.parametrize("document", [[], "text", None, 3])
def test_document_must_be_object(document):
    problems = validate_agents_json(document)

    assert paths_of(problems) == ["$"]
    assert "Expected object" in problems[0].message


def test_every_problem_is_listed():
    document = load("slack-notifier")
    _tool(document)["name"] = "report_tool_call_failed"
    _tool(document)["integration"]["domain"] = "com"
    _tool(document)["endpoint"]["headers"]["X-Key"] = "{{api_key}}"
    document["agents"][0].pop("systemPrompt")

    paths = paths_of(validate_agents_json(document))

    assert "$.agents[0].systemPrompt" in paths
    assert f"{TOOL}.name" in paths
    assert f"{TOOL}.integration.domain" in paths
    assert f'{TOOL}.endpoint.headers["X-Key"]' in paths


def test_problems_are_not_repeated():
    document = load("slack-notifier")
    _duplicate_agent(document)
    _duplicate_agent(document)

    problems = validate_agents_json(document)

    assert len(problems) == len(set(problems))


def test_extra_keys_tolerated_on_agents_and_tools():
    document = load("slack-notifier")
    document["builderVersion"] = "2"
    document["agents"][0]["avatar"] = "robot.png"
    _tool(document)["category"] = "messaging"

    assert validate_agents_json(document) == []


def test_extra_key_rejected_in_auth():
    document = load("hubspot-lookup")
    _tool(document)["integration"]["auth"]["clientSecret"] = "abc"

    paths = paths_of(validate_agents_json(document))

    assert f"{TOOL}.integration.auth.clientSecret" in paths


def test_disabled_builtin_alone_is_valid():
    document = {
        "agents": [
            {
                "id": "researcher",
                "name": "Researcher",
                "description": "d",
                "systemPrompt": "p",
                "tools": [
                    {"type": "builtin", "name": "WebSearch", "enabled": True},
                    {"type": "builtin", "name": "WebFetch", "enabled": False},
                ],
                "dataCollections": ["notes"],
            }
        ]
    }

    assert validate_agents_json(document) == []


def test_pagination_token_is_ordinary_input():
    document = load("google-calendar")
    _tool(document)["endpoint"]["queryParams"]["pageToken"] = "{{pageToken}}"

    assert validate_agents_json(document) == []


def test_loopback_tool_accepted_in_local_mode(settings):
    settings.SECOND_LOCAL_MODE = True
    document = load("open-meteo-public")
    _tool(document)["integration"]["domain"] = "127.0.0.1"
    _tool(document)["endpoint"]["url"] = "http://127.0.0.1:9000/v1/forecast"

    assert validate_agents_json(document) == []


def test_loopback_tool_rejected_outside_local_mode():
    document = load("open-meteo-public")
    _tool(document)["integration"]["domain"] = "127.0.0.1"
    _tool(document)["endpoint"]["url"] = "http://127.0.0.1:9000/v1/forecast"

    paths = paths_of(validate_agents_json(document))

    assert f"{TOOL}.integration.domain" in paths
    assert f"{TOOL}.endpoint.url" in paths


def test_oauth_loopback_http_accepted_in_local_mode(settings):
    settings.SECOND_LOCAL_MODE = True
    document = load("hubspot-lookup")
    _tool(document)["integration"]["auth"]["tokenUrl"] = "http://127.0.0.1:9000/token"

    assert validate_agents_json(document) == []


def test_url_on_product_host_rejected(settings):
    settings.SECOND_PUBLIC = {
        "host": "api.slack.com",
        "origin": "https://api.slack.com",
        "scheme": "https",
        "port": 443,
    }
    document = load("slack-notifier")
    _tool(document)["endpoint"]["url"] = "https://api.slack.com/api/chat.postMessage"

    problems = validate_agents_json(document)

    assert any(
        problem.path == f"{TOOL}.endpoint.url" and "own address" in problem.message
        for problem in problems
    )


@pytest.mark.parametrize(
    ("example", "expected"),
    [
        ("slack-notifier", "static"),
        ("github-triage", "static"),
        ("hubspot-lookup", "oauth2"),
        ("google-calendar", "oauth2"),
        ("open-meteo-public", "public"),
    ],
)
def test_tool_kind(example, expected):
    assert tool_kind(_tool(load(example))) == expected


def test_tool_kind_of_app_tool():
    document = load("posthog-report")

    assert tool_kind(document["appTools"][0]) == "static"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("api_key", True),
        ("apiKey", True),
        ("X-API-Key", True),
        ("token", True),
        ("access_token", True),
        ("password", True),
        ("client_secret", True),
        ("auth.bearer", True),
        ("pageToken", False),
        ("next_token", False),
        ("issue_key", False),
        ("author", False),
        ("monkey", False),
        ("company.ticker", False),
    ],
)
def test_looks_like_secret(name, expected):
    assert looks_like_secret(name) is expected
