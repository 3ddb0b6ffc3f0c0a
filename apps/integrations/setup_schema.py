"""JSON Schema of integration-setup.json: what a human configures per integration."""

from jsonschema import Draft202012Validator

_SECRET = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]{0,99}$"},
        "label": {"type": "string", "maxLength": 200},
        "description": {"type": "string", "maxLength": 1000},
        "required": {"type": "boolean"},
    },
}

_PERMISSION_GROUP = {
    "type": "object",
    "required": ["name", "permissions"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 120},
        "description": {"type": "string", "maxLength": 1000},
        "permissions": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": 200},
        },
    },
}

_INTEGRATION = {
    "type": "object",
    "required": ["name", "domain"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 120},
        "domain": {"type": "string", "minLength": 1, "maxLength": 253},
        "keySlug": {"type": "string", "maxLength": 64},
        "keyName": {"type": "string", "maxLength": 120},
        "capabilityLabel": {"type": "string", "maxLength": 200},
        "why": {"type": "string", "maxLength": 2000},
        "auth": {"type": "object"},
        "permissionGroups": {"type": "array", "items": _PERMISSION_GROUP},
        "secrets": {"type": "array", "items": _SECRET},
        "setupInstructions": {"type": ["object", "array", "string"]},
    },
}

SETUP_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["integrations"],
    "properties": {"integrations": {"type": "array", "items": _INTEGRATION}},
}

setup_validator = Draft202012Validator(SETUP_SCHEMA)
