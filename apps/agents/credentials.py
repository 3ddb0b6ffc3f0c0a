"""Credentials written where they would be stored and shown as plain text.

OAuth URLs and parameters are kept in configs, their diffs and admin pages, and
shown to every member, so a credential in them is an error: a client secret
goes into the write-only client secret field instead. Messages never repeat
the name or value found, since both are typed text.
"""

import re
from collections.abc import Iterator
from urllib.parse import unquote_plus, urlsplit

# Names of credentials as URL and form parameters use them. The audit
# sanitiser's rule is wider on purpose (prompts, messages), and OAuth
# parameters such as `prompt=consent` are not credentials.
_CREDENTIAL_NAME = re.compile(
    r"secret|token|passw|pwd|credential|api[_-]?key|private[_-]?key|signature"
    r"|authori[sz]ation|cookie|session"
    r"|(?:^|[_.-])(?:key|auth|sig|pass)(?:$|[_.-])",
    re.IGNORECASE,
)
URL_MESSAGE = (
    "The URL must not carry a credential: remove the user name and password, and "
    "any query, fragment or path parameter named like a secret, token, key or "
    "password. Send the client secret in the client secret field instead."
)
PARAMS_MESSAGE = (
    "The parameters must not carry a credential: remove the parameter named like "
    "a secret, token, key or password, and send the client secret in the client "
    "secret field instead."
)


def credential_name(name: str) -> bool:
    """Check whether a parameter name reads as the name of a credential."""
    return bool(_CREDENTIAL_NAME.search(name))


def _parameter_names(text: str) -> Iterator[str]:
    # `&` and `;` both separate parameters for some servers.
    for pair in re.split(r"[&;]", text):
        name = pair.split("=", 1)[0]
        if name:
            yield unquote_plus(name)


def url_carries_credential(url: str) -> bool:
    """Check a URL's user name, password, and query, fragment and path parameters."""
    try:
        parts = urlsplit(url)
        has_userinfo = bool(parts.username or parts.password)
    except ValueError:
        return False
    if has_userinfo:
        return True

    path_parameters = [
        segment.split(";", 1)[1] for segment in parts.path.split("/") if ";" in segment
    ]
    texts = (parts.query, parts.fragment, *path_parameters)
    return any(
        credential_name(name) for text in texts for name in _parameter_names(text)
    )


def params_carry_credential(params) -> bool:
    """Check whether a mapping of extra OAuth parameters names a credential."""
    if not isinstance(params, dict):
        return False
    return any(credential_name(str(name)) for name in params)


def oauth_auth_problems(auth: dict) -> Iterator[tuple[str, str]]:
    """Yield (field, message) for each URL or parameter map of an OAuth `auth`
    block that carries a credential."""
    for field in ("authorizationUrl", "tokenUrl", "revocationUrl", "userinfoUrl"):
        url = auth.get(field)
        if isinstance(url, str) and url_carries_credential(url):
            yield field, URL_MESSAGE

    for field in ("authorizationParams", "tokenParams"):
        if params_carry_credential(auth.get(field)):
            yield field, PARAMS_MESSAGE
