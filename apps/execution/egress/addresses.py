"""An explicit table of special-purpose IP ranges, and the classifier built on it.

The table is kept here instead of using `ipaddress`'s `is_private` and
`is_global`, because those flags changed between Python releases
(CVE-2024-4032 changed both in 3.12.4), and an egress decision must not change
with the interpreter. Rows follow the IANA IPv4 and IPv6 special-purpose
address registries, plus the cloud instance-metadata addresses.
"""

import ipaddress
from functools import lru_cache

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# The first matching row decides, so specific rows (metadata addresses) come
# before the ranges that contain them.
_IPV4_TABLE: tuple[tuple[str, str], ...] = (
    # Instance metadata: AWS (IMDS, ECS task metadata, DNS), GCP, Azure and
    # OpenStack use 169.254.169.254; Alibaba Cloud uses 100.100.100.200.
    ("169.254.169.254/32", "metadata"),
    ("169.254.169.253/32", "metadata"),
    ("169.254.170.2/32", "metadata"),
    ("100.100.100.200/32", "metadata"),
    ("0.0.0.0/8", "unspecified"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "cgnat"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link_local"),
    ("172.16.0.0/12", "private"),
    # IETF protocol assignments, such as 192.0.0.170 (NAT64 discovery).
    ("192.0.0.0/24", "reserved"),
    ("192.0.2.0/24", "documentation"),
    # The deprecated 6to4 relay anycast prefix.
    ("192.88.99.0/24", "reserved"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("255.255.255.255/32", "broadcast"),
    ("240.0.0.0/4", "reserved"),
)

_IPV6_TABLE: tuple[tuple[str, str], ...] = (
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    # The EC2 instance-metadata endpoint over IPv6, inside fc00::/7.
    ("fd00:ec2::254/128", "metadata"),
    ("100::/64", "reserved"),
    # Teredo, ORCHIDv2, AS112 and the other IETF protocol assignments.
    ("2001::/23", "reserved"),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("5f00::/16", "reserved"),
    ("fc00::/7", "private"),
    ("fe80::/10", "link_local"),
    ("fec0::/10", "reserved"),
    ("ff00::/8", "multicast"),
)

# Forms that carry an IPv4 address inside an IPv6 one. Dialling them can reach
# the IPv4 address (dual-stack sockets, NAT64 gateways, 6to4 relays), so they are
# always refused: with the embedded address's reason if it has one, and with
# `embedded_ipv4` otherwise.
_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")

# IANA allocates global unicast IPv6 from 2000::/3 only. Everything outside it,
# past the rows above, is reserved by the IETF.
_IPV6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")

_LOOPBACK_V4 = ipaddress.IPv4Network("127.0.0.0/8")
_LOOPBACK_V6 = ipaddress.IPv6Address("::1")


@lru_cache(maxsize=1)
def special_purpose_table() -> tuple[tuple[IPNetwork, str], ...]:
    """Return every (network, reason) row, IPv4 first, in matching order."""
    rows: list[tuple[IPNetwork, str]] = []
    for network, reason in _IPV4_TABLE + _IPV6_TABLE:
        rows.append((ipaddress.ip_network(network), reason))
    return tuple(rows)


def classify(address: str | IPAddress) -> str | None:
    """Return why `address` must not be dialled, or None for a public address.

    Accepts an address object or its text (an IPv6 zone suffix is ignored).
    Raises ValueError for text that is not an IP address.
    """
    ip = parse_address(address)
    if isinstance(ip, ipaddress.IPv4Address):
        return _table_reason(ip)
    return _classify_ipv6(ip)


def parse_address(address: str | IPAddress) -> IPAddress:
    """Return `address` as an address object, without any IPv6 zone suffix."""
    if isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address):
        ip = address
    else:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        ip = ipaddress.IPv6Address(ip.compressed.split("%", 1)[0])
    return ip


def is_plain_loopback(address: str | IPAddress) -> bool:
    """Tell whether `address` is in 127.0.0.0/8 or is exactly ::1.

    IPv4-mapped, IPv4-compatible, NAT64 and 6to4 forms of a loopback address do
    not count, because local mode accepts plain loopback addresses only.
    """
    ip = parse_address(address)
    if isinstance(ip, ipaddress.IPv4Address):
        return ip in _LOOPBACK_V4
    return ip == _LOOPBACK_V6


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """Return the IPv4 address inside a mapped, compatible, NAT64 or 6to4 address."""
    packed = address.packed
    if address in _IPV4_MAPPED or address in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(packed[12:])
    if address in _NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(packed[12:])
    if address in _NAT64_LOCAL:
        # RFC 6052: with a /48 prefix the IPv4 address fills bytes 6 and 7 and,
        # after the reserved byte 8, bytes 9 and 10.
        return ipaddress.IPv4Address(packed[6:8] + packed[9:11])
    if address in _SIX_TO_FOUR:
        return ipaddress.IPv4Address(packed[2:6])
    return None


def _classify_ipv6(ip: ipaddress.IPv6Address) -> str | None:
    # :: and ::1 lie inside ::/96, so the table decides them before unwrapping.
    if ip == ipaddress.IPv6Address("::") or ip == _LOOPBACK_V6:
        return _table_reason(ip)

    inner = embedded_ipv4(ip)
    if inner is not None:
        return _table_reason(inner) or "embedded_ipv4"

    reason = _table_reason(ip)
    if reason is not None:
        return reason
    if ip not in _IPV6_GLOBAL_UNICAST:
        return "reserved"
    return None


def _table_reason(ip: IPAddress) -> str | None:
    for network, reason in special_purpose_table():
        if ip.version == network.version and ip in network:
            return reason
    return None
