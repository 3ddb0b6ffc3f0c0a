"""The one URL parser of the egress client, used both to validate and to connect.

Python's urlsplit, urllib3 and browsers disagree on white space, backslashes,
userinfo, brackets and numeric hosts, so this parser rejects every such form
instead of cleaning it up. It returns a canonical, re-serialised URL, and the
client hands only that URL to urllib3.
"""

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote

import idna

from apps.execution.egress.errors import EgressError

DEFAULT_PORTS = {"https": 443, "http": 80}
MAX_URL_LENGTH = 8192
MAX_HOST_LENGTH = 253

_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_DECIMAL_RE = re.compile(r"[0-9]+")
_OCTAL_RE = re.compile(r"[0-7]+")
_HEX_RE = re.compile(r"[0-9a-f]*")
_BAD_PERCENT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_PERCENT_ESCAPE_RE = re.compile(r"%[0-9a-fA-F]{2}")

# Characters left as they are in a path or query: RFC 3986 unreserved and
# sub-delimiters, ":" and "@", "/" and "%" of existing escapes. Everything else,
# non-ASCII included, is percent-encoded as UTF-8, as urllib3 would do.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class ParsedUrl:
    """A validated http(s) URL and its canonical form.

    `host` is an ASCII (A-label) host name, a dotted-quad IPv4 address or a
    compressed IPv6 address without brackets. `address` is set when the host is
    an IP literal.
    """

    scheme: str
    host: str
    port: int
    path_and_query: str
    canonical: str
    address: IPAddress | None = None

    @property
    def host_for_url(self) -> str:
        """The host as written in a URL or Host header: IPv6 inside brackets."""
        return _host_for_url(self.host, self.address)

    @property
    def host_header(self) -> str:
        """The Host header value: the host, and the port when it is not the default."""
        return _authority(self.scheme, self.host_for_url, self.port)

    @property
    def is_https_443(self) -> bool:
        """Whether the URL meets the normal rule: https on port 443."""
        return self.scheme == "https" and self.port == 443


def parse_url(raw: object) -> ParsedUrl:
    """Parse and normalise an outbound URL, raising EgressError if it is unsafe.

    Raises `url_invalid` for malformed URLs and `https_required` for a scheme
    other than http or https. The port and the http scheme are judged later,
    because local mode accepts them for loopback destinations.
    """
    if not isinstance(raw, str) or not raw:
        raise EgressError("url_invalid", reason="empty", detail="The URL is empty.")
    _reject_bad_characters(raw)

    scheme, rest = _split_scheme(raw)
    authority, tail = _split_authority(rest)
    host_text, port_text, bracketed = _split_host_port(authority)

    port = _parse_port(port_text, scheme)
    if bracketed:
        host, address = _parse_bracketed_host(host_text)
    else:
        host, address = normalize_host_and_address(host_text)

    path_and_query = _normalise_path_and_query(tail, host)
    authority_text = _authority(scheme, _host_for_url(host, address), port)
    canonical = f"{scheme}://{authority_text}{path_and_query}"
    return ParsedUrl(scheme, host, port, path_and_query, canonical, address)


def normalize_host(value: str) -> str:
    """Return `value` as a host: lower case, no trailing dot, A-labels, IPs canonical.

    Raises EgressError(`url_invalid`) for a value that is not a host name or IP
    literal. IPv6 literals are accepted with or without brackets, as settings
    and domains may contain either.
    """
    if value.startswith("[") and value.endswith("]"):
        return _parse_bracketed_host(value[1:-1])[0]
    if ":" in value:
        return _parse_bracketed_host(value)[0]
    return normalize_host_and_address(value)[0]


def normalize_host_and_address(value: str) -> tuple[str, IPAddress | None]:
    """Normalise an unbracketed host and return it with its IP address, if it is one."""
    _reject_bad_characters(value)
    if "%" in value:
        raise _invalid("percent_encoding", "A host must not contain percent escapes.")

    host = value.lower() if value.isascii() else _lower_ascii(value)
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise _invalid("empty_host", "The URL has no host.")
    if len(host) > MAX_HOST_LENGTH:
        raise _invalid("host_too_long", "The host is longer than 253 characters.")

    if _ends_in_number(host):
        address = _parse_ipv4(host)
        return str(address), address
    return _to_ascii_host(host), None


def _reject_bad_characters(value: str) -> None:
    if len(value) > MAX_URL_LENGTH:
        raise _invalid("too_long", "The URL is longer than 8192 characters.")
    for character in value:
        if character == "\\":
            raise _invalid("backslash", "The URL contains a backslash.")
        if character.isspace():
            raise _invalid("whitespace", "The URL contains white space.")
        if _is_control(character):
            raise _invalid("control_character", "The URL contains a control character.")


def _is_control(character: str) -> bool:
    # Cc covers C0, DEL and C1. Cf covers invisible format characters such as
    # zero-width joiners and bidirectional overrides, which disguise hosts.
    return unicodedata.category(character) in ("Cc", "Cf", "Cs", "Co", "Cn")


def _split_scheme(raw: str) -> tuple[str, str]:
    match = _SCHEME_RE.match(raw)
    if match is None:
        raise _invalid("scheme", "The URL has no scheme; start it with https://.")

    scheme = match.group(0)[:-1].lower()
    if scheme not in DEFAULT_PORTS:
        raise EgressError("https_required", reason="scheme")
    return scheme, raw[match.end() :]


def _split_authority(rest: str) -> tuple[str, str]:
    if not rest.startswith("//"):
        raise _invalid("authority", "The URL must have the form https://host/path.")

    rest = rest[2:]
    end = len(rest)
    for delimiter in "/?#":
        position = rest.find(delimiter)
        if position != -1:
            end = min(end, position)

    authority = rest[:end]
    if "@" in authority:
        raise _invalid("userinfo", "The URL contains userinfo ('@') before the host.")
    if not authority:
        raise _invalid("empty_host", "The URL has no host.")
    return authority, rest[end:]


def _split_host_port(authority: str) -> tuple[str, str | None, bool]:
    if authority.startswith("["):
        close = authority.find("]")
        if close == -1:
            raise _invalid("bracketed_host", "A '[' in the host is never closed.")
        after = authority[close + 1 :]
        if after and not after.startswith(":"):
            raise _invalid("bracketed_host", "Text follows the bracketed host.")
        port_text = after[1:] if after else None
        return authority[1:close], port_text, True

    if "[" in authority or "]" in authority:
        raise _invalid("bracketed_host", "Brackets may only enclose the whole host.")
    if authority.count(":") > 1:
        raise _invalid("host_character", "Write IPv6 addresses inside brackets.")

    host, separator, port_text = authority.partition(":")
    return host, (port_text if separator else None), False


def _parse_port(port_text: str | None, scheme: str) -> int:
    if port_text is None:
        return DEFAULT_PORTS[scheme]
    if not port_text.isascii() or not port_text.isdigit():
        raise _invalid("port", "The port is not a number from 1 to 65535.")

    port = int(port_text)
    if port > 65535:
        raise _invalid("port", "The port is not a number from 1 to 65535.")
    return port


def _parse_bracketed_host(text: str) -> tuple[str, ipaddress.IPv6Address]:
    if "%" in text:
        raise _invalid("percent_encoding", "IPv6 zone identifiers are not accepted.")
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        raise _invalid(
            "bracketed_host", "Only IPv6 addresses may appear inside brackets."
        ) from None
    return address.compressed, address


def _lower_ascii(value: str) -> str:
    # Unicode case mapping can change a string's length or meaning, so only ASCII
    # letters are folded. IDNA 2008 rejects upper-case non-ASCII letters.
    return "".join(c.lower() if c.isascii() else c for c in value)


def _ends_in_number(host: str) -> bool:
    # Resolvers read a host whose last label is a number ("127.1", "2130706433",
    # "0x7f.1") as an IPv4 address, as the WHATWG URL standard does.
    last_label = host.rsplit(".", 1)[-1]
    if _DECIMAL_RE.fullmatch(last_label):
        return True
    return last_label.startswith("0x") and bool(_HEX_RE.fullmatch(last_label[2:]))


def _parse_ipv4(host: str) -> ipaddress.IPv4Address:
    parts = host.split(".")
    if len(parts) > 4:
        raise _invalid("ip_literal", "The host is not a valid IPv4 address.")

    numbers = [_parse_ipv4_number(part) for part in parts]
    if any(number > 255 for number in numbers[:-1]):
        raise _invalid("ip_literal", "The host is not a valid IPv4 address.")
    if numbers[-1] >= 256 ** (5 - len(numbers)):
        raise _invalid("ip_literal", "The host is not a valid IPv4 address.")

    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value += number * 256 ** (3 - index)
    return ipaddress.IPv4Address(value)


def _parse_ipv4_number(part: str) -> int:
    if part.startswith("0x"):
        digits, pattern, base = part[2:], _HEX_RE, 16
    elif len(part) > 1 and part.startswith("0"):
        digits, pattern, base = part[1:], _OCTAL_RE, 8
    else:
        digits, pattern, base = part, _DECIMAL_RE, 10

    if not pattern.fullmatch(digits) or (base != 16 and not digits):
        raise _invalid("ip_literal", "The host is not a valid IPv4 address.")
    return int(digits, base) if digits else 0


def _to_ascii_host(host: str) -> str:
    if not host.isascii():
        host = _encode_idna(host)

    labels = host.split(".")
    for label in labels:
        if not _LABEL_RE.fullmatch(label):
            raise _invalid(
                "host_character",
                "Host labels may contain only letters, digits and inner hyphens.",
            )
        if label.startswith("xn--"):
            _check_a_label(label)
    return host


def _encode_idna(host: str) -> str:
    # strict=True splits labels on "." only. Without it idna also splits on
    # ideographic and full-width dots, so the dialled name would differ from the
    # one written. Round-tripping rejects every other mapping.
    try:
        encoded = idna.encode(host, strict=True).decode("ascii")
        decoded = idna.decode(encoded)
    except (idna.IDNAError, UnicodeError):
        raise _invalid("idna", "The host is not a valid IDNA host name.") from None
    if decoded != host:
        raise _invalid("idna", "The host does not survive IDNA conversion unchanged.")
    return encoded


def _check_a_label(label: str) -> None:
    try:
        round_trip = idna.encode(idna.decode(label)).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise _invalid("idna", "The host has an invalid 'xn--' label.") from None
    if round_trip != label:
        raise _invalid("idna", "The host has a non-canonical 'xn--' label.")


def _normalise_path_and_query(tail: str, host: str) -> str:
    # The fragment is never sent, so it is dropped here, before anything reads it.
    without_fragment = tail.split("#", 1)[0]
    if _BAD_PERCENT_RE.search(without_fragment):
        raise EgressError(
            "url_invalid",
            reason="percent_encoding",
            host=host,
            detail="A '%' in the path or query is not followed by two hex digits.",
        )

    path, separator, query = without_fragment.partition("?")
    path = _remove_dot_segments(path or "/")
    path = _upper_escapes(quote(path, safe=_PATH_SAFE))
    if not separator:
        return path
    return f"{path}?{_upper_escapes(quote(query, safe=_QUERY_SAFE))}"


def _remove_dot_segments(path: str) -> str:
    """Resolve "." and ".." segments of an absolute path, as RFC 3986 5.2.4 says.

    urllib3 resolves them when it parses a URL, so the canonical URL does too:
    otherwise the path checked here and the path urllib3 reads would differ.
    A ".." never climbs above the root. Escaped dots (%2E) are left as they are.
    """
    output: list[str] = []
    for segment in path.split("/"):
        if segment == ".":
            continue
        if segment == "..":
            # The first item is the empty text before the leading "/".
            if len(output) > 1:
                output.pop()
            continue
        output.append(segment)
    if path.endswith(("/.", "/..")):
        output.append("")
    return "/".join(output) or "/"


def _upper_escapes(text: str) -> str:
    # RFC 3986 makes the case of escapes insignificant, and urllib3 upper-cases
    # them, so the canonical URL does too.
    return _PERCENT_ESCAPE_RE.sub(lambda match: match.group(0).upper(), text)


def _host_for_url(host: str, address: IPAddress | None) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        return f"[{host}]"
    return host


def _authority(scheme: str, host_for_url: str, port: int) -> str:
    if port == DEFAULT_PORTS[scheme]:
        return host_for_url
    return f"{host_for_url}:{port}"


def _invalid(reason: str, detail: str) -> EgressError:
    return EgressError("url_invalid", reason=reason, detail=detail)
