"""Tests of the security-relevant difference between approved and draft documents."""

import copy
import json
from pathlib import Path

import pytest

from apps.agents.hashing import drop_empty, parse_json_text
from apps.applications.review_diff import Change, diff_counts, review_diff

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"

NOTIFIER = "agent notifier"
RESEARCHER = "agent researcher"
SLACK_TOOL = "agent notifier, tool post_message"
HUBSPOT_TOOL = "agent notifier, tool find_company"
SEARCH_TOOL = "agent researcher, tool WebSearch"
CACHE_TOOL = "app tool refresh_cache"
SLACK_INTEGRATION = "integration slack.com/default"
MESSAGES_GROUP = "integration slack.com/default, group Messages"

HUBSPOT_TOKEN_URL = "https://api.hubapi.com/oauth/v1/token"
HUBSPOT_AUTHORIZE_URL = "https://app.hubspot.com/oauth/authorize"
SLACK_URL = "https://slack.com/api/chat.postMessage"


def added(category: str, subject: str, value: str) -> Change:
    return Change("added", category, subject, None, value)


def removed(category: str, subject: str, value: str) -> Change:
    return Change("removed", category, subject, value, None)


def changed(category: str, subject: str, before: str, after: str) -> Change:
    return Change("changed", category, subject, before, after)


def hubspot_auth() -> dict:
    return {
        "type": "oauth2",
        "providerKey": "hubspot",
        "identity": "triggering_user",
        "authorizationUrl": HUBSPOT_AUTHORIZE_URL,
        "tokenUrl": HUBSPOT_TOKEN_URL,
        "scopes": ["crm.objects.companies.read"],
    }


def base_agents() -> dict:
    """Return an agents.json with a static, an OAuth, a builtin and an app tool."""
    return {
        "agents": [
            {
                "id": "notifier",
                "name": "Notifier",
                "description": "Posts releases.",
                "systemPrompt": "Post one message.",
                "dataCollections": ["releases"],
                "tools": [
                    {
                        "type": "custom",
                        "name": "post_message",
                        "integration": {"name": "Slack", "domain": "slack.com"},
                        "endpoint": {
                            "method": "POST",
                            "url": SLACK_URL,
                            "headers": {
                                "Authorization": "Bearer {{secrets.SLACK_TOKEN}}"
                            },
                            "body": {"channel": "{{channel}}", "text": "{{text}}"},
                        },
                    },
                    {
                        "type": "custom",
                        "name": "find_company",
                        "integration": {
                            "name": "HubSpot",
                            "domain": "api.hubapi.com",
                            "auth": hubspot_auth(),
                        },
                        "endpoint": {
                            "method": "GET",
                            "url": "https://api.hubapi.com/crm/v3/objects/companies",
                        },
                    },
                ],
            },
            {
                "id": "researcher",
                "name": "Researcher",
                "description": "Searches the web.",
                "systemPrompt": "Search.",
                "tools": [{"type": "builtin", "name": "WebSearch", "enabled": True}],
            },
        ],
        "appTools": [
            {
                "type": "custom",
                "name": "refresh_cache",
                "integration": {"name": "Cache", "domain": "api.example.com"},
                "endpoint": {"method": "DELETE", "url": "https://api.example.com/c"},
            }
        ],
    }


def base_setup() -> dict:
    return {
        "integrations": [
            {
                "name": "Slack",
                "domain": "slack.com",
                "keySlug": "default",
                "permissionGroups": [
                    {"name": "Messages", "permissions": ["chat:write"]},
                ],
                "secrets": [{"name": "SLACK_TOKEN", "required": True}],
            }
        ]
    }


def slack_tool(document: dict) -> dict:
    return document["agents"][0]["tools"][0]


def hubspot_tool(document: dict) -> dict:
    return document["agents"][0]["tools"][1]


def example(name: str) -> dict:
    return parse_json_text((EXAMPLES / name).read_text())


# Changes to agents.json. Each function edits one document in place.


def add_auditor_agent(document: dict) -> None:
    document["agents"].append({"id": "auditor", "name": "Auditor"})


def drop_researcher_agent(document: dict) -> None:
    document["agents"].pop()


def add_web_fetch(document: dict) -> None:
    tool = {"type": "builtin", "name": "WebFetch", "enabled": True}
    document["agents"][1]["tools"].append(tool)


def disable_web_search(document: dict) -> None:
    document["agents"][1]["tools"][0]["enabled"] = False


def disable_slack_tool(document: dict) -> None:
    slack_tool(document)["enabled"] = False


def drop_app_tool(document: dict) -> None:
    document["appTools"] = []


def add_oauth_app_tool(document: dict) -> None:
    document["appTools"].append(
        {
            "type": "custom",
            "name": "list_deals",
            "integration": {
                "name": "HubSpot",
                "domain": "api.hubapi.com",
                "keySlug": "deals",
                "auth": {**hubspot_auth(), "scopes": ["crm.objects.deals.read"]},
            },
            "endpoint": {
                "method": "GET",
                "url": "https://api.hubapi.com/crm/v3/objects/deals",
            },
        }
    )


def add_static_tool(document: dict) -> None:
    document["agents"][0]["tools"].append(
        {
            "type": "custom",
            "name": "list_issues",
            "integration": {"name": "GitHub", "domain": "api.github.com"},
            "endpoint": {
                "method": "GET",
                "url": "https://api.github.com/repos/{{owner}}/{{repo}}/issues",
                "headers": {"Authorization": "Bearer {{secrets.GITHUB_TOKEN}}"},
            },
        }
    )


def move_slack_domain(document: dict) -> None:
    slack_tool(document)["integration"]["domain"] = "api.slack.com"


def change_slack_url(document: dict) -> None:
    slack_tool(document)["endpoint"]["url"] = "https://slack.com/api/chat.delete"


def change_slack_method(document: dict) -> None:
    slack_tool(document)["endpoint"]["method"] = "PUT"


def add_hubspot_scope(document: dict) -> None:
    scopes = hubspot_tool(document)["integration"]["auth"]["scopes"]
    scopes.append("crm.objects.companies.write")


def change_token_url(document: dict) -> None:
    auth = hubspot_tool(document)["integration"]["auth"]
    auth["tokenUrl"] = "https://evil.example/token"


def change_authorization_url(document: dict) -> None:
    auth = hubspot_tool(document)["integration"]["auth"]
    auth["authorizationUrl"] = "https://evil.example/authorize"


def add_slack_oauth(document: dict) -> None:
    slack_tool(document)["integration"]["auth"] = {
        "type": "oauth2",
        "providerKey": "slack",
        "identity": "triggering_user",
        "authorizationUrl": "https://slack.com/oauth/v2/authorize",
        "tokenUrl": "https://slack.com/api/oauth.v2.access",
        "scopes": ["chat:write"],
    }


def add_slack_secret(document: dict) -> None:
    headers = slack_tool(document)["endpoint"]["headers"]
    headers["X-Workspace"] = "{{secrets.SLACK_WORKSPACE}}"


def add_data_collection(document: dict) -> None:
    document["agents"][0]["dataCollections"].append("changelog")


AGENTS_CASES = [
    pytest.param(
        None,
        add_auditor_agent,
        [added("agent", "agent auditor", "auditor")],
        id="agent added",
    ),
    pytest.param(
        None,
        drop_researcher_agent,
        [
            removed("agent", RESEARCHER, "researcher"),
            removed("tool", SEARCH_TOOL, "enabled"),
        ],
        id="agent removed",
    ),
    pytest.param(
        None,
        add_web_fetch,
        [added("tool", "agent researcher, tool WebFetch", "enabled")],
        id="builtin tool added",
    ),
    pytest.param(
        add_web_fetch,
        None,
        [removed("tool", "agent researcher, tool WebFetch", "enabled")],
        id="builtin tool removed",
    ),
    pytest.param(
        None,
        disable_web_search,
        [changed("tool", SEARCH_TOOL, "enabled", "disabled")],
        id="builtin tool disabled",
    ),
    pytest.param(
        None,
        disable_slack_tool,
        [changed("tool", SLACK_TOOL, "enabled", "disabled")],
        id="custom tool disabled",
    ),
    pytest.param(
        disable_slack_tool,
        None,
        [changed("tool", SLACK_TOOL, "disabled", "enabled")],
        id="custom tool enabled",
    ),
    pytest.param(
        None,
        add_static_tool,
        [
            added("tool", "agent notifier, tool list_issues", "enabled"),
            added("domain", "agent notifier, tool list_issues", "api.github.com"),
            added(
                "endpoint",
                "agent notifier, tool list_issues",
                "https://api.github.com/repos/{{owner}}/{{repo}}/issues",
            ),
            added("method", "agent notifier, tool list_issues", "GET"),
            added("secretName", "agent notifier, tool list_issues", "GITHUB_TOKEN"),
        ],
        id="static tool added",
    ),
    pytest.param(
        None,
        drop_app_tool,
        [
            removed("tool", CACHE_TOOL, "enabled"),
            removed("domain", CACHE_TOOL, "api.example.com"),
            removed("endpoint", CACHE_TOOL, "https://api.example.com/c"),
            removed("method", CACHE_TOOL, "DELETE"),
        ],
        id="app tool removed",
    ),
    pytest.param(
        None,
        add_oauth_app_tool,
        [
            added("tool", "app tool list_deals", "enabled"),
            added("domain", "app tool list_deals", "api.hubapi.com"),
            added(
                "endpoint",
                "app tool list_deals",
                "https://api.hubapi.com/crm/v3/objects/deals",
            ),
            added("method", "app tool list_deals", "GET"),
            added("scope", "app tool list_deals", "crm.objects.deals.read"),
            added("tokenUrl", "app tool list_deals", HUBSPOT_TOKEN_URL),
            added("authorizationUrl", "app tool list_deals", HUBSPOT_AUTHORIZE_URL),
        ],
        id="oauth app tool added",
    ),
    pytest.param(
        add_oauth_app_tool,
        None,
        [
            removed("tool", "app tool list_deals", "enabled"),
            removed("domain", "app tool list_deals", "api.hubapi.com"),
            removed(
                "endpoint",
                "app tool list_deals",
                "https://api.hubapi.com/crm/v3/objects/deals",
            ),
            removed("method", "app tool list_deals", "GET"),
            removed("scope", "app tool list_deals", "crm.objects.deals.read"),
            removed("tokenUrl", "app tool list_deals", HUBSPOT_TOKEN_URL),
            removed("authorizationUrl", "app tool list_deals", HUBSPOT_AUTHORIZE_URL),
        ],
        id="oauth app tool removed",
    ),
    pytest.param(
        None,
        move_slack_domain,
        [changed("domain", SLACK_TOOL, "slack.com", "api.slack.com")],
        id="domain changed",
    ),
    pytest.param(
        None,
        change_slack_url,
        [
            changed(
                "endpoint", SLACK_TOOL, SLACK_URL, "https://slack.com/api/chat.delete"
            )
        ],
        id="endpoint changed",
    ),
    pytest.param(
        None,
        change_slack_method,
        [changed("method", SLACK_TOOL, "POST", "PUT")],
        id="method changed",
    ),
    pytest.param(
        None,
        add_hubspot_scope,
        [added("scope", HUBSPOT_TOOL, "crm.objects.companies.write")],
        id="scope added",
    ),
    pytest.param(
        add_hubspot_scope,
        None,
        [removed("scope", HUBSPOT_TOOL, "crm.objects.companies.write")],
        id="scope removed",
    ),
    pytest.param(
        None,
        change_token_url,
        [
            changed(
                "tokenUrl",
                HUBSPOT_TOOL,
                HUBSPOT_TOKEN_URL,
                "https://evil.example/token",
            )
        ],
        id="token url changed",
    ),
    pytest.param(
        None,
        change_authorization_url,
        [
            changed(
                "authorizationUrl",
                HUBSPOT_TOOL,
                HUBSPOT_AUTHORIZE_URL,
                "https://evil.example/authorize",
            )
        ],
        id="authorization url changed",
    ),
    pytest.param(
        None,
        add_slack_oauth,
        [
            added("scope", SLACK_TOOL, "chat:write"),
            added("tokenUrl", SLACK_TOOL, "https://slack.com/api/oauth.v2.access"),
            added(
                "authorizationUrl", SLACK_TOOL, "https://slack.com/oauth/v2/authorize"
            ),
        ],
        id="oauth added to tool",
    ),
    pytest.param(
        add_slack_oauth,
        None,
        [
            removed("scope", SLACK_TOOL, "chat:write"),
            removed("tokenUrl", SLACK_TOOL, "https://slack.com/api/oauth.v2.access"),
            removed(
                "authorizationUrl", SLACK_TOOL, "https://slack.com/oauth/v2/authorize"
            ),
        ],
        id="oauth removed from tool",
    ),
    pytest.param(
        None,
        add_slack_secret,
        [added("secretName", SLACK_TOOL, "SLACK_WORKSPACE")],
        id="secret name added",
    ),
    pytest.param(
        add_slack_secret,
        None,
        [removed("secretName", SLACK_TOOL, "SLACK_WORKSPACE")],
        id="secret name removed",
    ),
    pytest.param(
        None,
        add_data_collection,
        [added("dataCollection", NOTIFIER, "changelog")],
        id="data collection added",
    ),
    pytest.param(
        add_data_collection,
        None,
        [removed("dataCollection", NOTIFIER, "changelog")],
        id="data collection removed",
    ),
]


@pytest.mark.parametrize(("approved_edit", "draft_edit", "expected"), AGENTS_CASES)
def test_agents_json_changes(approved_edit, draft_edit, expected):
    approved, draft = base_agents(), base_agents()
    if approved_edit is not None:
        approved_edit(approved)
    if draft_edit is not None:
        draft_edit(draft)

    changes = review_diff(approved_agents=approved, draft_agents=draft)

    assert changes == expected


# Changes to integration-setup.json.


def add_channels_group(document: dict) -> None:
    groups = document["integrations"][0]["permissionGroups"]
    groups.append({"name": "Channels", "permissions": ["channels:read"]})


def add_public_write(document: dict) -> None:
    groups = document["integrations"][0]["permissionGroups"]
    groups[0]["permissions"].append("chat:write.public")


def add_setup_secret(document: dict) -> None:
    secrets = document["integrations"][0]["secrets"]
    secrets.append({"name": "signing_secret"})


SETUP_CASES = [
    pytest.param(
        None,
        add_channels_group,
        [
            added("permissionGroup", SLACK_INTEGRATION, "Channels"),
            added(
                "permission",
                "integration slack.com/default, group Channels",
                "channels:read",
            ),
        ],
        id="permission group added",
    ),
    pytest.param(
        add_channels_group,
        None,
        [
            removed("permissionGroup", SLACK_INTEGRATION, "Channels"),
            removed(
                "permission",
                "integration slack.com/default, group Channels",
                "channels:read",
            ),
        ],
        id="permission group removed",
    ),
    pytest.param(
        None,
        add_public_write,
        [added("permission", MESSAGES_GROUP, "chat:write.public")],
        id="permission added",
    ),
    pytest.param(
        add_public_write,
        None,
        [removed("permission", MESSAGES_GROUP, "chat:write.public")],
        id="permission removed",
    ),
    pytest.param(
        None,
        add_setup_secret,
        [added("secretName", SLACK_INTEGRATION, "SIGNING_SECRET")],
        id="setup secret added",
    ),
    pytest.param(
        add_setup_secret,
        None,
        [removed("secretName", SLACK_INTEGRATION, "SIGNING_SECRET")],
        id="setup secret removed",
    ),
]


@pytest.mark.parametrize(("approved_edit", "draft_edit", "expected"), SETUP_CASES)
def test_setup_changes(approved_edit, draft_edit, expected):
    approved, draft = base_setup(), base_setup()
    if approved_edit is not None:
        approved_edit(approved)
    if draft_edit is not None:
        draft_edit(draft)

    changes = review_diff(
        approved_agents=base_agents(),
        draft_agents=base_agents(),
        approved_setup=approved,
        draft_setup=draft,
    )

    assert changes == expected


def test_whole_integration_removed():
    changes = review_diff(
        approved_agents=None,
        draft_agents=None,
        approved_setup=base_setup(),
        draft_setup=None,
    )

    assert changes == [
        removed("secretName", SLACK_INTEGRATION, "SLACK_TOKEN"),
        removed("permissionGroup", SLACK_INTEGRATION, "Messages"),
        removed("permission", MESSAGES_GROUP, "chat:write"),
    ]


def test_no_approval_lists_everything_added():
    draft = {
        "agents": [
            {
                "id": "notifier",
                "dataCollections": ["releases"],
                "tools": [copy.deepcopy(slack_tool(base_agents()))],
            }
        ]
    }

    changes = review_diff(approved_agents=None, draft_agents=draft)

    assert changes == [
        added("agent", NOTIFIER, "notifier"),
        added("dataCollection", NOTIFIER, "releases"),
        added("tool", SLACK_TOOL, "enabled"),
        added("domain", SLACK_TOOL, "slack.com"),
        added("endpoint", SLACK_TOOL, SLACK_URL),
        added("method", SLACK_TOOL, "POST"),
        added("secretName", SLACK_TOOL, "SLACK_TOKEN"),
    ]


def test_no_approval_only_additions():
    changes = review_diff(
        approved_agents=None, draft_agents=base_agents(), draft_setup=base_setup()
    )

    assert diff_counts(changes) == {"added": 23, "removed": 0, "changed": 0}


def test_identical_documents_no_changes():
    changes = review_diff(
        approved_agents=base_agents(),
        draft_agents=base_agents(),
        approved_setup=base_setup(),
        draft_setup=base_setup(),
    )

    assert changes == []


def reverse_key_order(value):
    if isinstance(value, dict):
        return {key: reverse_key_order(value[key]) for key in reversed(value)}
    if isinstance(value, list):
        return [reverse_key_order(item) for item in value]
    return value


def reformat_json(document: dict) -> dict:
    return json.loads(json.dumps(reverse_key_order(document), indent=4))


def reorder_lists(document: dict) -> dict:
    scopes = hubspot_tool(document)["integration"]["auth"]["scopes"]
    scopes.insert(0, "crm.objects.companies.read")
    document["agents"][0]["tools"].reverse()
    document["agents"].reverse()
    return document


def respell_integration(document: dict) -> dict:
    integration = slack_tool(document)["integration"]
    integration["domain"] = "https://www.Slack.COM/"
    integration["keySlug"] = "Default"
    hubspot_tool(document)["integration"]["auth"]["tokenAuthMethod"] = (
        "client_secret_post"
    )
    return document


def add_empty_lists(document: dict) -> dict:
    document["agents"][1]["dataCollections"] = []
    document["agents"].append({"id": "x", "tools": []})
    return document


@pytest.mark.parametrize(
    "rewrite",
    [reformat_json, reorder_lists, respell_integration, drop_empty],
    ids=["key order", "list order", "integration spelling", "hash form"],
)
def test_equivalent_agents_no_changes(rewrite):
    draft = rewrite(base_agents())

    assert review_diff(approved_agents=base_agents(), draft_agents=draft) == []


def respell_setup(document: dict) -> dict:
    integration = document["integrations"][0]
    integration["domain"] = "Slack.com."
    integration.pop("keySlug")
    integration["secrets"][0]["name"] = "slack_token"
    integration["permissionGroups"][0]["permissions"].append("chat:write")
    return document


@pytest.mark.parametrize(
    "rewrite", [reformat_json, respell_setup], ids=["key order", "spelling"]
)
def test_equivalent_setup_no_changes(rewrite):
    changes = review_diff(
        approved_agents=None,
        draft_agents=None,
        approved_setup=base_setup(),
        draft_setup=rewrite(base_setup()),
    )

    assert changes == []


def test_empty_agent_lists_change_nothing():
    approved = add_empty_lists(base_agents())
    draft = drop_empty(base_agents())
    draft["agents"].append({"id": "x"})

    assert review_diff(approved_agents=approved, draft_agents=draft) == []


def with_tool(tool) -> dict:
    return {"agents": [{"id": "a", "tools": [tool]}]}


def with_integration(integration) -> dict:
    return {"integrations": [integration]}


MALFORMED_AGENTS = [
    None,
    "agents",
    [],
    7,
    {"agents": "x", "appTools": {}},
    {"agents": [1, None, "a", []]},
    {"agents": [{"id": {"nested": 1}, "tools": "x", "dataCollections": "x"}]},
    {"agents": [{"id": "a", "dataCollections": [1, None, {}]}]},
    with_tool(1),
    with_tool({"name": ["x"], "type": 5}),
    with_tool({"integration": "x", "endpoint": []}),
    with_tool({"integration": {"domain": 5, "keySlug": []}, "endpoint": "x"}),
    with_tool({"integration": {"domain": "a b\x00c"}, "endpoint": {"url": 5}}),
    with_tool({"integration": {"domain": "xn--", "auth": "x"}}),
    with_tool({"integration": {"auth": {"scopes": 5}}}),
    with_tool({"integration": {"auth": {"scopes": [{"a": 1}, ["b"], 3]}}}),
    with_tool({"integration": {"auth": {"scopes": "abc", "tokenUrl": 1}}}),
    with_tool({"endpoint": {"method": None, "headers": {"h": ["{{secrets.}}"]}}}),
    with_tool({"type": "builtin", "enabled": "yes"}),
    {"appTools": [1, {"name": None}, {"type": "builtin"}]},
]

MALFORMED_SETUPS = [
    None,
    "setup",
    [],
    {"integrations": "x"},
    {"integrations": [1, None]},
    with_integration({"domain": None, "permissionGroups": "x", "secrets": "x"}),
    with_integration({"domain": "Slack.com", "permissionGroups": [1, {"name": 5}]}),
    with_integration({"permissionGroups": [{"name": "G", "permissions": 5}]}),
    with_integration({"permissionGroups": [{"name": "G", "permissions": [1, {}]}]}),
    with_integration({"secrets": [1, {"name": 5}, {"label": "x"}]}),
]


@pytest.mark.parametrize("document", MALFORMED_AGENTS)
def test_malformed_agents_tolerated(document):
    as_draft = review_diff(approved_agents=base_agents(), draft_agents=document)
    as_approved = review_diff(approved_agents=document, draft_agents=base_agents())

    assert isinstance(as_draft, list)
    assert isinstance(as_approved, list)


@pytest.mark.parametrize("document", MALFORMED_SETUPS)
def test_malformed_setup_tolerated(document):
    as_draft = review_diff(
        approved_agents=None,
        draft_agents=None,
        approved_setup=base_setup(),
        draft_setup=document,
    )
    as_approved = review_diff(
        approved_agents=None,
        draft_agents=None,
        approved_setup=document,
        draft_setup=base_setup(),
    )

    assert isinstance(as_draft, list)
    assert isinstance(as_approved, list)


def test_malformed_scopes_keep_strings():
    tool = {"integration": {"auth": {"scopes": [{"a": 1}, "crm.read", 3]}}}

    changes = review_diff(approved_agents=None, draft_agents=with_tool(tool))

    assert [c for c in changes if c.category == "scope"] == [
        added("scope", "agent a, tool None", "crm.read")
    ]


def test_slack_example_new_oauth_tool():
    approved = example("slack-notifier.agents.json")
    draft = copy.deepcopy(approved)
    calendar_tool = example("google-calendar.agents.json")["agents"][0]["tools"][0]
    calendar_tool["integration"]["auth"]["scopes"].append(
        "https://www.googleapis.com/auth/calendar.events"
    )
    draft["agents"][0]["tools"].append(calendar_tool)
    setup = example("slack-notifier.integration-setup.json")
    subject = "agent release-notifier, tool list_calendar_events"

    changes = review_diff(
        approved_agents=drop_empty(approved),
        draft_agents=draft,
        approved_setup=setup,
        draft_setup=setup,
    )

    assert added("domain", subject, "googleapis.com") in changes
    assert (
        added("scope", subject, "https://www.googleapis.com/auth/calendar.events")
        in changes
    )
    assert all(change.subject == subject for change in changes)


def test_diff_counts_by_kind():
    changes = [
        added("scope", HUBSPOT_TOOL, "a"),
        added("scope", HUBSPOT_TOOL, "b"),
        removed("scope", HUBSPOT_TOOL, "c"),
    ]

    assert diff_counts(changes) == {"added": 2, "removed": 1, "changed": 0}


def test_diff_counts_of_nothing():
    assert diff_counts([]) == {"added": 0, "removed": 0, "changed": 0}
