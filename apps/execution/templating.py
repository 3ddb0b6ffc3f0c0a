"""Rendering of an approved endpoint template with the tool input and secrets.

Substitution is a single pass over the approved template: a value that itself
contains `{{...}}` is inserted as data and never expanded again. Each value is
encoded for where it lands (percent-encoding in the URL, form or JSON encoding in
the body), and header values are checked for control characters after
substitution. The scheme, host and port of the URL come from the template alone.
"""

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus, urlencode, urlsplit

from apps.agents.hashing import format_number
from apps.agents.placeholders import (
    PLACEHOLDER_PATTERN,
    endpoint_split,
    exact_placeholder,
    input_path_segments,
    is_secret_placeholder,
    secret_name,
)
from apps.core.errors import ApiError

logger = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/json"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

MISSING_SECRET_REASON = "missing configured secret"

# HTTP allows a tab inside a field value, but no approved template needs one from
# the tool input, so every character below U+0020 and DEL is rejected.
_HEADER_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")

# RFC 9110 field names are tokens.
_HEADER_NAME_PATTERN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

_MISSING = object()


class TemplateError(ApiError):
    """A tool call that cannot be rendered, with its API error `code`."""

    status_code = 400

    def __init__(self, code: str, detail: str, *, extra: dict | None = None) -> None:
        super().__init__(code, detail, extra=extra)


class MissingInputPlaceholders(TemplateError):
    """Missing tool-input values that the template needs, sorted in `names`."""

    def __init__(self, names: list[str]) -> None:
        self.names = sorted(names)
        listed = ", ".join(self.names)
        super().__init__(
            "missing_input_placeholders",
            f"The tool input has no value for: {listed}; send every one of them.",
            extra={"missing": self.names},
        )


class MissingSecret(Exception):
    """A secret the template needs is not configured, so the call returns mock data."""

    reason = MISSING_SECRET_REASON

    def __init__(self, names: list[str]) -> None:
        self.secret_names = sorted(names)
        self.secret_name = self.secret_names[0]
        super().__init__(
            f"The secret {self.secret_name} is not configured for this integration; "
            "an admin must set it before the tool runs live."
        )


@dataclass(frozen=True)
class RenderedRequest:
    """An HTTP request ready for egress, with the secret values it contains."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    injected_values: tuple[str, ...]


def render_request(
    endpoint: Mapping[str, Any], tool_input: Any, secrets: Mapping[str, str]
) -> RenderedRequest:
    """Render `endpoint` with `tool_input` and `secrets`.

    Secrets are looked up by the NAME of `{{secrets.NAME}}`, then by NAME in upper
    case, as grants store secret names upper-cased. Raises TemplateError (codes
    `invalid_tool_spec`, `invalid_tool_input`, `static_bulk_endpoint_guard`,
    `invalid_header_value`), MissingInputPlaceholders, and MissingSecret.
    """
    template_url = _template_url(endpoint)
    inputs = _input_mapping(tool_input)
    split = endpoint_split(dict(endpoint))

    _check_bulk_guard(inputs, split.input_paths)
    _check_inputs_present(inputs, split.input_paths)
    secret_values = _resolve_secrets(secrets, split.secret_names)

    renderer = _Renderer(inputs, secret_values)
    url = renderer.render_url(template_url, endpoint.get("queryParams"))
    headers = renderer.render_headers(endpoint.get("headers"))
    body = renderer.render_body(endpoint.get("body"), headers)

    _check_origin_unchanged(template_url, url)
    return RenderedRequest(
        method=str(endpoint.get("method", "GET")).upper(),
        url=url,
        headers=headers,
        body=body,
        injected_values=tuple(renderer.injected),
    )


# Checks before rendering


def _template_url(endpoint: Mapping[str, Any]) -> str:
    url = endpoint.get("url")
    if not isinstance(url, str) or not url:
        raise TemplateError(
            "invalid_tool_spec", "The approved endpoint has no URL; fix agents.json."
        )

    scheme, separator, rest = url.partition("://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if not separator or "{{" in scheme or "{{" in authority or "}}" in authority:
        raise TemplateError(
            "invalid_tool_spec",
            "The approved endpoint URL has no fixed scheme and host; placeholders "
            "may appear in its path and query only.",
        )
    return url


def _input_mapping(tool_input: Any) -> dict:
    if tool_input is None:
        return {}
    if not isinstance(tool_input, dict):
        raise TemplateError(
            "invalid_tool_input",
            f"The tool input is a {type(tool_input).__name__}; send a JSON object.",
        )
    return tool_input


def _check_bulk_guard(inputs: dict, input_paths: tuple[str, ...]) -> None:
    # An endpoint without input placeholders sends the same request whatever the
    # input, so input there signals a caller expecting a filter that does not exist.
    if inputs and not input_paths:
        raise TemplateError(
            "static_bulk_endpoint_guard",
            "This tool's endpoint takes no input, but input was sent; call it with an "
            "empty input.",
        )


def _check_inputs_present(inputs: dict, input_paths: tuple[str, ...]) -> None:
    missing = [path for path in input_paths if lookup_input(inputs, path) is _MISSING]
    if missing:
        raise MissingInputPlaceholders(missing)


def lookup_input(inputs: Any, path: str) -> Any:
    """Return the value at dotted `path` of the tool input, or the `_MISSING` marker.

    A null value counts as missing, since it cannot be placed in a URL or header.
    """
    value = inputs
    for segment in input_path_segments(path):
        if isinstance(value, dict) and segment in value:
            value = value[segment]
        elif (
            isinstance(value, list) and segment.isdigit() and int(segment) < len(value)
        ):
            value = value[int(segment)]
        else:
            return _MISSING
    return _MISSING if value is None else value


def _resolve_secrets(
    secrets: Mapping[str, str], names: tuple[str, ...]
) -> dict[str, str]:
    values: dict[str, str] = {}
    missing: list[str] = []
    for name in names:
        value = secrets.get(name)
        if value is None:
            value = secrets.get(name.upper())
        if isinstance(value, str) and value:
            values[name] = value
        else:
            missing.append(name)

    if missing:
        raise MissingSecret(missing)
    return values


def _check_origin_unchanged(template_url: str, rendered_url: str) -> None:
    template, rendered = urlsplit(template_url), urlsplit(rendered_url)
    try:
        same = (
            template.scheme == rendered.scheme
            and template.hostname == rendered.hostname
            and template.port == rendered.port
            and template.netloc == rendered.netloc
        )
    except ValueError:
        same = False

    if not same:
        raise TemplateError(
            "invalid_tool_spec",
            "Rendering changed the scheme, host or port of the approved endpoint URL; "
            "fix the URL template in agents.json.",
        )


# Rendering


def text_of(value: Any) -> str:
    """Write an input value as text: strings as is, numbers and JSON values as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_number(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _quote_path_value(text: str) -> str:
    # "." and ".." are path segments that servers resolve, so they would move the
    # request to another path of the approved host.
    if text in (".", ".."):
        raise TemplateError(
            "invalid_tool_input",
            "A tool input value placed in the URL path is '.' or '..', which would "
            "change the path; send another value.",
        )
    return quote(text, safe="")


def _quote_query_value(text: str) -> str:
    return quote(text, safe="")


def _json_string_content(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _unchanged(text: str) -> str:
    return text


class _Renderer:
    """One rendering pass, which records the secret values it placed."""

    def __init__(self, inputs: dict, secrets: dict[str, str]) -> None:
        self.inputs = inputs
        self.secrets = secrets
        self.injected: list[str] = []

    def value_of(self, name: str) -> Any:
        if not is_secret_placeholder(name):
            return lookup_input(self.inputs, name)

        secret = secret_name(name)
        if secret is None or secret not in self.secrets:
            raise TemplateError(
                "invalid_tool_spec",
                f"The placeholder {{{{{name}}}}} is not a valid secret placeholder; "
                "write {{secrets.NAME}} in agents.json.",
            )
        value = self.secrets[secret]
        if value not in self.injected:
            self.injected.append(value)
        return value

    def substitute(self, text: str, encode: Callable[[str], str]) -> str:
        """Replace each placeholder of `text` with its encoded value, in one pass."""
        return PLACEHOLDER_PATTERN.sub(
            lambda match: encode(text_of(self.value_of(match.group(1)))), text
        )

    def typed(self, template: Any) -> Any:
        """Render a JSON template, where a lone placeholder keeps its value's type."""
        if isinstance(template, str):
            name = exact_placeholder(template)
            if name is not None:
                return self.value_of(name)
            return self.substitute(template, _unchanged)
        if isinstance(template, dict):
            return {key: self.typed(value) for key, value in template.items()}
        if isinstance(template, list):
            return [self.typed(item) for item in template]
        return template

    def render_url(self, template_url: str, query_params: Any) -> str:
        without_fragment = template_url.split("#", 1)[0]
        path_part, separator, query_part = without_fragment.partition("?")
        url = self.substitute(path_part, _quote_path_value) + separator
        url += self.substitute(query_part, _quote_query_value)

        pairs = self.query_pairs(query_params)
        if not pairs:
            return url
        separator = "&" if "?" in url else "?"
        return url + separator + urlencode(pairs)

    def query_pairs(self, query_params: Any) -> list[tuple[str, str]]:
        if not isinstance(query_params, dict):
            return []

        pairs: list[tuple[str, str]] = []
        for key, template in query_params.items():
            value = self.typed(template)
            items = value if isinstance(value, list) else [value]
            pairs.extend((str(key), text_of(item)) for item in items)
        return pairs

    def render_headers(self, templates: Any) -> dict[str, str]:
        headers: dict[str, str] = {}
        if not isinstance(templates, dict):
            return headers

        for name, template in templates.items():
            _check_header_name(name)
            value = self.substitute(str(template), _unchanged)
            _check_header_value(name, value)
            headers[name] = value
        return headers

    def render_body(self, template: Any, headers: dict[str, str]) -> bytes | None:
        if template is None:
            return None

        media_type = _media_type(headers)
        if isinstance(template, str):
            return self.render_text_body(template, media_type)

        value = self.typed(template)
        if media_type == FORM_CONTENT_TYPE:
            return _form_encode(value)

        if media_type is None:
            headers["Content-Type"] = JSON_CONTENT_TYPE
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return text.encode("utf-8")

    def render_text_body(self, template: str, media_type: str | None) -> bytes:
        # A text body is encoded for its declared type, so an input value cannot
        # add form fields or JSON members of its own.
        if media_type == FORM_CONTENT_TYPE:
            encode = quote_plus
        elif media_type is not None and _is_json_media_type(media_type):
            encode = _json_string_content
        else:
            encode = _unchanged
        return self.substitute(template, encode).encode("utf-8")


def _check_header_name(name: Any) -> None:
    if not isinstance(name, str) or not _HEADER_NAME_PATTERN.match(name):
        raise TemplateError(
            "invalid_tool_spec",
            f"The approved header name {name!r} is not a valid HTTP header name; fix "
            "agents.json.",
        )


def _check_header_value(name: str, value: str) -> None:
    # The message names the header only: the value may hold a secret or input.
    if _HEADER_CONTROL_CHARACTERS.search(value):
        raise TemplateError(
            "invalid_header_value",
            f"The value of header {name!r} would contain a control character (such as "
            "CR, LF or tab); remove it from the tool input.",
            extra={"header": name},
        )
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise TemplateError(
            "invalid_header_value",
            f"The value of header {name!r} would contain characters outside "
            "ISO-8859-1, which HTTP headers cannot carry; send ASCII text.",
            extra={"header": name},
        ) from None


def _media_type(headers: dict[str, str]) -> str | None:
    for name, value in headers.items():
        if name.lower() == "content-type":
            return value.split(";", 1)[0].strip().lower()
    return None


def _is_json_media_type(media_type: str) -> bool:
    return media_type == JSON_CONTENT_TYPE or media_type.endswith("+json")


def _form_encode(value: Any) -> bytes:
    if not isinstance(value, dict):
        raise TemplateError(
            "invalid_tool_spec",
            "A form-encoded body must be a JSON object in agents.json; make the body "
            "an object of fields.",
        )

    pairs: list[tuple[str, str]] = []
    for key, item in value.items():
        items = item if isinstance(item, list) else [item]
        pairs.extend((str(key), text_of(element)) for element in items)
    return urlencode(pairs).encode("ascii")
