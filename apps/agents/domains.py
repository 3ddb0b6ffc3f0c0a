"""Integration domains: normalisation, the approval rules and host matching.

A tool's `integration.domain` names the host it may reach, and that host's every
subdomain. These rules run when agents.json is validated. The egress layer checks
each request's host and resolved addresses again at call time.
"""

import ipaddress
import logging
from functools import lru_cache

import idna
from django.conf import settings
from publicsuffixlist import PublicSuffixList

logger = logging.getLogger(__name__)

HTTPS_PORT = 443


class DomainError(ValueError):
    """A value that cannot be read as a host name or IP address."""


@lru_cache(maxsize=1)
def _public_suffix_list() -> PublicSuffixList:
    # The list ships inside the publicsuffixlist package, so no network is needed.
    # Only its ICANN section counts: the private section lists cloud API hosts such
    # as googleapis.com and s3.amazonaws.com, which real tools must be able to
    # name. Private suffixes such as github.io are therefore accepted, and the
    # approval page shows them as "github.io and every subdomain". Unknown
    # top-level names are treated as public suffixes.
    return PublicSuffixList(accept_unknown=True, only_icann=True)


def normalize_domain(value: str) -> str:
    """Return the host name of `value`: trimmed, lower case, ASCII (IDNA).

    A scheme, port, path, query, a leading `www.` and a trailing dot are removed.
    Raises DomainError for userinfo, an invalid port or an invalid host name.
    """
    host, _port = split_host_port(value)
    return _normalize_host(host, original=value)


def split_host_port(value: str) -> tuple[str, int | None]:
    """Split `value` (a domain, host:port or URL) into its raw host and port.

    Raises DomainError for userinfo, an invalid port or an empty host.
    """
    if not isinstance(value, str):
        raise DomainError(f"The domain {value!r} is not a string; send a host name.")

    authority = _authority_of(value.strip())
    if "@" in authority:
        raise DomainError(
            f"The domain {value!r} contains userinfo ('@'); give the host name only."
        )

    host, port_text = _split_authority(authority)
    if not host:
        raise DomainError(f"The domain {value!r} has no host name; give one.")
    return host, _parse_port(port_text, value)


def _authority_of(text: str) -> str:
    _scheme, separator, rest = text.partition("://")
    if not separator:
        rest = text
    for delimiter in "/?#":
        rest = rest.split(delimiter, 1)[0]
    return rest


def _split_authority(authority: str) -> tuple[str, str | None]:
    if authority.startswith("["):
        host, _bracket, rest = authority[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
        return host, port

    # More than one colon without brackets is a bare IPv6 address.
    if authority.count(":") == 1:
        host, _colon, port = authority.partition(":")
        return host, port
    return authority, None


def _parse_port(port_text: str | None, original: str) -> int | None:
    if port_text is None:
        return None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise DomainError(
            f"The domain {original!r} has an invalid port {port_text!r}; remove it "
            "or give a number from 1 to 65535."
        )
    return int(port_text)


def _normalize_host(host: str, *, original: str) -> str:
    host = host.strip().lower().rstrip(".")
    address = parse_ip_literal(host)
    if address is not None:
        return str(address)

    if host.startswith("www."):
        host = host[len("www.") :]
    return _to_ascii(host, original=original)


def _to_ascii(host: str, *, original: str) -> str:
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii")
        round_trip = idna.encode(idna.decode(ascii_host)).decode("ascii")
    except idna.IDNAError as error:
        raise DomainError(
            f"The domain {original!r} is not a valid host name ({error}); use letters, "
            "digits, hyphens and dots only."
        ) from error

    if round_trip != ascii_host:
        raise DomainError(
            f"The domain {original!r} does not survive IDNA conversion unchanged; "
            f"write it as {ascii_host!r}."
        )
    return ascii_host


def parse_ip_literal(
    host: str,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Return the IP address `host` is written as, brackets allowed, or None."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def is_loopback_literal(host: str) -> bool:
    """Tell whether `host` is written as 127.0.0.0/8 or ::1.

    IPv4-mapped and other embedded forms do not count, as the egress rule of local
    mode accepts plain loopback addresses only.
    """
    address = parse_ip_literal(host)
    if isinstance(address, ipaddress.IPv4Address):
        return address in ipaddress.IPv4Network("127.0.0.0/8")
    return address == ipaddress.IPv6Address("::1")


def local_mode() -> bool:
    """Tell whether the local settings module is active (SECOND_LOCAL_MODE)."""
    return bool(getattr(settings, "SECOND_LOCAL_MODE", False))


def is_product_origin(host: str, port: int | None) -> bool:
    """Tell whether `host` (and `port`) is the product's own public origin.

    Outside local mode the product's host matches on every port. In local mode a
    loopback product host matches only on the product's own port, because local
    tools may reach stand-ins on other loopback ports.
    """
    product = getattr(settings, "SECOND_PUBLIC", None) or {}
    product_host = str(product.get("host") or "").lower().strip("[]")
    if not product_host:
        return False

    try:
        normalized = _normalize_host(host, original=host)
        product_normalized = _normalize_host(product_host, original=product_host)
    except DomainError:
        return False
    if normalized != product_normalized:
        return False

    if local_mode() and is_loopback_literal(normalized):
        return port is not None and port == product.get("port")
    return True


def domain_problems(value: object) -> list[str]:
    """Return every way `value` breaks the integration domain rules, or []."""
    if not isinstance(value, str) or not value.strip():
        return [f"The domain {value!r} is empty; give the API's host name."]
    if "*" in value:
        return [
            f"The domain {value!r} contains a wildcard; give the host name only, "
            "because a domain already covers every subdomain."
        ]

    try:
        raw_host, port = split_host_port(value)
        host = _normalize_host(raw_host, original=value)
    except DomainError as error:
        return [str(error)]

    if parse_ip_literal(host) is not None:
        return _ip_literal_problems(value, host, port)
    return _host_name_problems(value, host, port)


def _ip_literal_problems(value: str, host: str, port: int | None) -> list[str]:
    if not (local_mode() and is_loopback_literal(host)):
        return [
            f"The domain {value!r} is an IP address; give the API's host name. Only "
            "loopback addresses are accepted, and only in local mode."
        ]
    if is_product_origin(host, port):
        return [_own_origin_message(value)]
    return []


def _host_name_problems(value: str, host: str, port: int | None) -> list[str]:
    problems: list[str] = []

    if _looks_numeric(host):
        problems.append(
            f"The domain {value!r} looks like an IP address in a non-standard form; "
            "give the API's host name."
        )
    elif "." not in host:
        problems.append(
            f"The domain {value!r} is a single label (a top-level domain or a local "
            "name); give the API's fully qualified host name, such as api.example.com."
        )
    elif _public_suffix_list().is_public(host):
        problems.append(
            f"The domain {value!r} is a public suffix ({host}) that many unrelated "
            "owners share; give the API's own host name, such as api.example.com."
        )

    if port is not None and port != HTTPS_PORT:
        problems.append(
            f"The domain {value!r} names port {port}; tools may reach port 443 only, "
            "so remove the port."
        )
    if is_product_origin(host, port):
        problems.append(_own_origin_message(value))
    return problems


def _looks_numeric(host: str) -> bool:
    # Resolvers read names such as "2130706433" or "127.1" as IPv4 addresses, and no
    # top-level domain is all digits.
    last_label = host.rsplit(".", 1)[-1]
    return last_label.isdigit() or last_label.startswith("0x")


def _own_origin_message(value: str) -> str:
    return (
        f"The domain {value!r} is this product's own address (SECOND_PUBLIC_URL); "
        "tools must not call back into the product."
    )


def host_matches_domain(host: str, domain: str) -> bool:
    """Tell whether `host` equals `domain` or is a subdomain of it, both normalised."""
    try:
        normalized_host = normalize_domain(host)
        normalized_domain = normalize_domain(domain)
    except DomainError:
        return False

    if normalized_host == normalized_domain:
        return True
    if parse_ip_literal(normalized_domain) is not None:
        return False
    return normalized_host.endswith("." + normalized_domain)


def describe_domain(domain: str) -> str:
    """Describe what a domain approves, as approval pages show it."""
    try:
        normalized = normalize_domain(domain)
    except DomainError:
        return f"{domain} (invalid domain)"

    if parse_ip_literal(normalized) is not None:
        return f"{normalized} only"
    return f"{normalized} and every subdomain"
