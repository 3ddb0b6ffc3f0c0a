"""The JSON Schema (draft 2020-12) of agents.json, schema version 1.

Strictness: the top level, agents and tools accept extra keys, because builders
attach metadata there and the hash covers every key, so an approver still reviews them.
`integration`, `integration.auth` and `endpoint` accept only the documented keys,
because the worker reads them to build the request and a misspelt key there
(`header` for `headers`) would silently change what is sent.

Rules that need more than one value (unique ids, domains, placeholders) live in
`apps.agents.validation`.
"""

from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA_VERSION = 1

RESERVED_TOOL_NAMES = frozenset({"report_tool_call_failed"})

BUILTIN_TOOL_NAMES = ("WebSearch", "WebFetch")

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

TOKEN_AUTH_METHODS = ("client_secret_post", "client_secret_basic", "none")

# Tool names are what the model calls, and the function-calling APIs of the major
# model providers accept 1 to 64 characters of this set.
TOOL_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

_NON_BLANK_STRING = {"type": "string", "pattern": r"\S"}

_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}

_QUERY_SCALAR = {"type": ["string", "number", "boolean"]}

AGENTS_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "agents.json, schema version 1",
    "type": "object",
    "properties": {
        "agents": {"type": "array", "items": {"$ref": "#/$defs/agent"}},
        "appTools": {"type": "array", "items": {"$ref": "#/$defs/customTool"}},
    },
    "$defs": {
        "agent": {
            "type": "object",
            "required": ["id", "name", "description", "systemPrompt"],
            "properties": {
                "id": _NON_BLANK_STRING,
                "name": _NON_BLANK_STRING,
                "description": {"type": "string"},
                "systemPrompt": {"type": "string"},
                "dataCollections": {
                    "type": "array",
                    "items": _NON_BLANK_STRING,
                },
                "tools": {"type": "array", "items": {"$ref": "#/$defs/tool"}},
            },
        },
        "tool": {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"enum": ["builtin", "custom"]}},
            "allOf": [
                {
                    "if": {
                        "required": ["type"],
                        "properties": {"type": {"const": "builtin"}},
                    },
                    "then": {"$ref": "#/$defs/builtinTool"},
                },
                {
                    "if": {
                        "required": ["type"],
                        "properties": {"type": {"const": "custom"}},
                    },
                    "then": {"$ref": "#/$defs/customTool"},
                },
            ],
        },
        "builtinTool": {
            "type": "object",
            "required": ["type", "name", "enabled"],
            "properties": {
                "type": {"const": "builtin"},
                "name": {"enum": list(BUILTIN_TOOL_NAMES)},
                "enabled": {"type": "boolean"},
            },
        },
        "customTool": {
            "type": "object",
            "required": ["type", "name", "integration", "endpoint"],
            "properties": {
                "type": {"const": "custom"},
                "name": {"type": "string", "pattern": TOOL_NAME_PATTERN},
                "displayName": {"type": "string"},
                "description": {"type": "string"},
                "enabled": {"type": "boolean"},
                "recommended": {"type": "boolean"},
                "responseSchema": {"type": ["object", "boolean"]},
                "mockData": {"type": "array"},
                "integration": {"$ref": "#/$defs/integration"},
                "endpoint": {"$ref": "#/$defs/endpoint"},
            },
        },
        "integration": {
            "type": "object",
            "required": ["name", "domain"],
            "additionalProperties": False,
            "properties": {
                "name": _NON_BLANK_STRING,
                "domain": _NON_BLANK_STRING,
                "keySlug": {"type": "string"},
                "auth": {"$ref": "#/$defs/oauth2"},
            },
        },
        "oauth2": {
            "type": "object",
            "required": [
                "type",
                "providerKey",
                "identity",
                "authorizationUrl",
                "tokenUrl",
                "scopes",
            ],
            "additionalProperties": False,
            "properties": {
                "type": {"const": "oauth2"},
                "providerKey": _NON_BLANK_STRING,
                "identity": {"const": "triggering_user"},
                "authorizationUrl": _NON_BLANK_STRING,
                "tokenUrl": _NON_BLANK_STRING,
                "scopes": {"type": "array", "minItems": 1, "items": _NON_BLANK_STRING},
                "tokenAuthMethod": {"enum": list(TOKEN_AUTH_METHODS)},
                "authorizationParams": _STRING_MAP,
                "tokenParams": _STRING_MAP,
            },
        },
        "endpoint": {
            "type": "object",
            "required": ["method", "url"],
            "additionalProperties": False,
            "properties": {
                "method": {"enum": list(HTTP_METHODS)},
                "url": _NON_BLANK_STRING,
                "headers": _STRING_MAP,
                "queryParams": {
                    "type": "object",
                    "additionalProperties": {
                        "anyOf": [
                            _QUERY_SCALAR,
                            {"type": "array", "items": _QUERY_SCALAR},
                        ]
                    },
                },
                "body": {},
            },
        },
    },
}


@lru_cache(maxsize=1)
def agents_json_validator() -> Draft202012Validator:
    """Return the validator of AGENTS_JSON_SCHEMA, checked against its metaschema."""
    Draft202012Validator.check_schema(AGENTS_JSON_SCHEMA)
    return Draft202012Validator(AGENTS_JSON_SCHEMA)
