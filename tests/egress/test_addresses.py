"""Tests of the special-purpose address table and the embedded-IPv4 unwrapping."""

import ipaddress

import pytest

from apps.execution.egress.addresses import (
    classify,
    embedded_ipv4,
    is_plain_loopback,
    special_purpose_table,
)

BLOCKED = [
    # Loopback.
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("::1", "loopback"),
    # Unspecified and "this network".
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("::", "unspecified"),
    # Private ranges and their edges.
    ("10.0.0.1", "private"),
    ("10.0.0.5", "private"),
    ("10.255.255.255", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.0.1", "private"),
    ("fd00::1", "private"),
    ("fc00::1", "private"),
    # Link-local and cloud metadata.
    ("169.254.169.254", "metadata"),
    ("169.254.170.2", "metadata"),
    ("169.254.169.253", "metadata"),
    ("100.100.100.200", "metadata"),
    ("fd00:ec2::254", "metadata"),
    ("169.254.0.1", "link_local"),
    ("169.254.169.123", "link_local"),
    ("fe80::1", "link_local"),
    ("fe80::1%eth0", "link_local"),
    # Shared address space (carrier-grade NAT).
    ("100.64.0.1", "cgnat"),
    ("100.127.255.254", "cgnat"),
    # Other special-purpose ranges.
    ("192.0.0.170", "reserved"),
    ("192.0.2.1", "documentation"),
    ("198.51.100.1", "documentation"),
    ("203.0.113.1", "documentation"),
    ("2001:db8::1", "documentation"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.255", "benchmarking"),
    ("192.88.99.1", "reserved"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::2", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("100::1", "reserved"),
    ("2001::1", "reserved"),
    ("2001:1ff::1", "reserved"),
    ("fec0::1", "reserved"),
    ("4000::1", "reserved"),
    # Embedded IPv4: mapped, compatible, NAT64 and 6to4, unwrapped.
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:7f00:1", "loopback"),
    ("::ffff:10.0.0.1", "private"),
    ("::ffff:169.254.169.254", "metadata"),
    ("::169.254.169.254", "metadata"),
    ("::127.0.0.1", "loopback"),
    ("2002:a9fe:a9fe::", "metadata"),
    ("2002:7f00:1::", "loopback"),
    ("64:ff9b::a9fe:a9fe", "metadata"),
    ("64:ff9b::10.0.0.1", "private"),
    ("64:ff9b:1:7f00:0:100::", "loopback"),
    # Embedded forms of public addresses are refused too.
    ("::ffff:93.184.215.14", "embedded_ipv4"),
    ("64:ff9b::5db8:d70e", "embedded_ipv4"),
    ("2002:5db8:d70e::1", "embedded_ipv4"),
]

PUBLIC = [
    "172.32.0.1",
    "172.15.255.255",
    "11.0.0.1",
    "9.255.255.255",
    "93.184.215.14",
    "100.63.255.254",
    "100.128.0.1",
    "192.167.255.255",
    "198.17.255.255",
    "198.20.0.1",
    "223.255.255.255",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001::1",
    "2001:200::1",
]


@pytest.mark.parametrize(("address", "reason"), BLOCKED)
def test_classify_blocked_address(address, reason):
    assert classify(address) == reason


@pytest.mark.parametrize("address", PUBLIC)
def test_classify_public_address(address):
    assert classify(address) is None


def test_classify_accepts_address_objects():
    assert classify(ipaddress.ip_address("10.1.2.3")) == "private"


def test_classify_rejects_non_address():
    with pytest.raises(ValueError):
        classify("api.allowed.example")


def test_table_has_a_reason_per_row():
    rows = special_purpose_table()
    assert len(rows) > 30
    for network, reason in rows:
        assert reason, network


@pytest.mark.parametrize(
    ("address", "inner"),
    [
        ("::ffff:10.0.0.1", "10.0.0.1"),
        ("::10.0.0.1", "10.0.0.1"),
        ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
        ("64:ff9b:1:a9fe:a9:fe00::", "169.254.169.254"),
        ("2002:a9fe:a9fe::", "169.254.169.254"),
    ],
)
def test_embedded_ipv4_unwraps(address, inner):
    assert embedded_ipv4(ipaddress.IPv6Address(address)) == ipaddress.IPv4Address(inner)


def test_embedded_ipv4_none_for_native_ipv6():
    assert embedded_ipv4(ipaddress.IPv6Address("2606:4700:4700::1111")) is None


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1"])
def test_plain_loopback_accepted(address):
    assert is_plain_loopback(address)


@pytest.mark.parametrize(
    "address",
    ["::ffff:127.0.0.1", "::127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::", "10.0.0.1"],
)
def test_plain_loopback_excludes_embedded_forms(address):
    assert not is_plain_loopback(address)
