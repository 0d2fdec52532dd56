"""The webhook SSRF guard's address test (issue item 12): an IPv6 address that carries an IPv4
address (NAT64, 6to4, IPv4-compatible, Teredo, IPv4-mapped) is judged as that IPv4 address,
and site-local fec0::/10 is refused. No network: ``_public`` judges the literal address."""

import pytest

from callgoose.delivery.webhook import _public

NOT_PUBLIC = [
    "127.0.0.1", "10.0.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1",
    "::1", "::", "fe80::1", "fe80::1%eth0", "fc00::1", "fd12:3456::1", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254",  # IPv4-mapped
    "64:ff9b::7f00:1", "64:ff9b::127.0.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b::10.0.0.1",  # NAT64 well-known prefix
    "64:ff9b:1::a00:1",  # the local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215): never global
    "2002:7f00:1::", "2002:a9fe:a9fe::1", "2002:c0a8:101::", "2002:0a00:0001::",  # 6to4
    "::127.0.0.1", "::10.0.0.1", "::169.254.169.254", "::7f00:1",  # IPv4-compatible
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo whose client is 127.0.0.1 (obfuscated ~)
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo whose client is 10.0.0.1
    "2001:0:7f00:1:8000:63bf:3fff:fdd2",  # Teredo whose server is 127.0.0.1
    "fec0::1", "fec0:1234::5", "feff::1",  # site-local fec0::/10
    "2001:db8::1",  # documentation
]

PUBLIC = [
    "93.184.216.34", "8.8.8.8", "1.1.1.1",
    "2606:4700:4700::1111", "2a00:1450:4001:82a::200e",
    "::ffff:8.8.8.8", "64:ff9b::808:808", "64:ff9b::8.8.8.8", "2002:808:808::1", "::8.8.8.8",
    "2001:0:4136:e378:8000:63bf:f7f7:f7f7",  # Teredo: server 65.54.227.120, client 8.8.8.8
]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_guard_refuses_addresses_that_are_not_public(address):
    assert _public(address) is False


@pytest.mark.parametrize("address", PUBLIC)
def test_guard_accepts_public_addresses_also_inside_ipv6(address):
    assert _public(address) is True
