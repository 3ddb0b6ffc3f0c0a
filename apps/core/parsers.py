"""The API's JSON parser: nesting too deep for Python and NUL characters are
reported as bad input.

PostgreSQL cannot store U+0000 in a jsonb or text value, so a body that carries
one would fail at the database, after the request was accepted.
"""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _nul_path(value, path: str = "$") -> str | None:
    """Return the JSON path of the first string or key holding U+0000, if any."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return path
            found = _nul_path(item, f"{path}.{key}")
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_path(item, f"{path}[{index}]")
            if found:
                return found
    return None


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(
                "The JSON body is nested too deeply; flatten it and send it again."
            ) from None
        path = _nul_path(data)
        if path is not None:
            raise ParseError(
                f"The JSON body has a NUL character (\\u0000) at {path}; remove it "
                "and send the body again."
            )
        return data
