"""Placeholders in endpoint templates: `{{name}}` with name `[A-Za-z0-9_.-]+`.

`{{secrets.NAME}}` is a named secret that the worker reads server-side. Any other
name is a dot-separated path into the tool input, so `{{company.ticker}}` reads
`input["company"]["ticker"]` and a digit segment indexes a list.

Placeholders are substituted in string values only: in `endpoint.url`, header
values, query parameter values and body values. Object keys are never rendered, so
a placeholder in a key is a validation problem rather than a template.
"""

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

PLACEHOLDER_PATTERN = re.compile(r"\{\{([A-Za-z0-9_.-]+)\}\}")

# Anything between double braces. Spans that PLACEHOLDER_PATTERN does not accept,
# such as "{{ api_key }}", would be sent literally, so validation reports them.
BRACES_PATTERN = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)

SECRETS_NAMESPACE = "secrets"
SECRET_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")

_IDENTIFIER_PATTERN = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")

ENDPOINT_TEMPLATE_FIELDS = ("url", "headers", "queryParams", "body")


@dataclass(frozen=True)
class PlaceholderUse:
    """One placeholder found in a template, with the JSON path of its string."""

    path: str
    name: str


@dataclass(frozen=True)
class PlaceholderSplit:
    """Placeholder names sorted into secret names and tool-input paths."""

    secret_names: tuple[str, ...]
    input_paths: tuple[str, ...]


def child_path(parent: str, key: str | int) -> str:
    """Return the JSON path of `key` under `parent`, such as `$.a[0].h["X-Id"]`."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    if _IDENTIFIER_PATTERN.match(key):
        return f"{parent}.{key}"
    return f"{parent}[{json.dumps(key, ensure_ascii=False)}]"


def fill_placeholders(text: str, value: str = "x") -> str:
    """Replace every placeholder in `text` with `value`.

    Placeholders may sit in a URL's path and query only, so a filled URL keeps
    the scheme, host and port that were approved.
    """
    return PLACEHOLDER_PATTERN.sub(value, text)


def names_in_text(text: str) -> list[str]:
    """Return the placeholder names in `text`, in order of appearance."""
    return PLACEHOLDER_PATTERN.findall(text)


def exact_placeholder(text: str) -> str | None:
    """Return the name when `text` is exactly one placeholder, else None."""
    match = PLACEHOLDER_PATTERN.fullmatch(text)
    return match.group(1) if match else None


def malformed_placeholders(text: str) -> list[str]:
    """Return the `{{...}}` spans in `text` that are not valid placeholders."""
    return [
        match.group(0)
        for match in BRACES_PATTERN.finditer(text)
        if not PLACEHOLDER_PATTERN.fullmatch(match.group(0))
    ]


def iter_strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Yield (JSON path, string) for every string value nested in `value`."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from iter_strings(item, child_path(path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from iter_strings(item, child_path(path, index))


def iter_keys(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Yield (JSON path, key) for every object key nested in `value`."""
    if isinstance(value, dict):
        for key, item in value.items():
            key_path = child_path(path, str(key))
            yield key_path, str(key)
            yield from iter_keys(item, key_path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from iter_keys(item, child_path(path, index))


def find_placeholders(value: Any, path: str = "$") -> list[PlaceholderUse]:
    """Return every placeholder in the string values nested in `value`."""
    return [
        PlaceholderUse(path=string_path, name=name)
        for string_path, text in iter_strings(value, path)
        for name in names_in_text(text)
    ]


def endpoint_placeholders(endpoint: Any, path: str = "$") -> list[PlaceholderUse]:
    """Return the placeholders of an endpoint's url, headers, queryParams and body."""
    if not isinstance(endpoint, dict):
        return []

    uses: list[PlaceholderUse] = []
    for field in ENDPOINT_TEMPLATE_FIELDS:
        if field in endpoint:
            uses.extend(find_placeholders(endpoint[field], child_path(path, field)))
    return uses


def is_secret_placeholder(name: str) -> bool:
    """Tell whether a placeholder name is in the `secrets` namespace."""
    return name == SECRETS_NAMESPACE or name.startswith(SECRETS_NAMESPACE + ".")


def secret_name(name: str) -> str | None:
    """Return NAME of `secrets.NAME`, or None when `name` is no valid secret name."""
    if not name.startswith(SECRETS_NAMESPACE + "."):
        return None
    candidate = name[len(SECRETS_NAMESPACE) + 1 :]
    return candidate if SECRET_NAME_PATTERN.match(candidate) else None


def input_path_segments(name: str) -> list[str]:
    """Split a tool-input placeholder name into its path segments."""
    return name.split(".")


def split_placeholders(names: Iterable[str]) -> PlaceholderSplit:
    """Sort placeholder names into secret names and input paths, each sorted unique.

    A malformed secret placeholder (`{{secrets}}`, `{{secrets.a.b}}`) is in neither
    list; validation reports it.
    """
    secrets: set[str] = set()
    inputs: set[str] = set()
    for name in names:
        if not is_secret_placeholder(name):
            inputs.add(name)
            continue
        secret = secret_name(name)
        if secret is not None:
            secrets.add(secret)
    return PlaceholderSplit(
        secret_names=tuple(sorted(secrets)), input_paths=tuple(sorted(inputs))
    )


def endpoint_split(endpoint: Any) -> PlaceholderSplit:
    """Return the secret names and input paths an endpoint template uses."""
    return split_placeholders(use.name for use in endpoint_placeholders(endpoint))
