"""Names and reverse zones, computed locally (no resolver)."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from snf_network.dns.names import forward_name, host_name, reverse_name, reverse_zone
from snf_network.errors import InputError


@pytest.mark.parametrize(("instance", "fqdn"), [
    ("web1", "web1.example.org."),
    ("WEB1", "web1.example.org."),
    ("web1.example.org", "web1.example.org."),  # not doubled
    ("web1.example.org.", "web1.example.org."),
    ("web1.other.net", "web1.other.net.example.org."),  # outside FZONE: appended, as the original did
    ("web1.notexample.org", "web1.notexample.org.example.org."),  # a suffix is not a parent zone
    ("0web-1", "0web-1.example.org."),
])
def test_forward_name(instance, fqdn):
    assert forward_name(instance, "example.org") == fqdn


@pytest.mark.parametrize("bad", ["", "web 1", "web1\n", "web1\nweb2", "web_1", "-web", "web-", "a..b",
                                 ".web", "a" * 64, "web1.", "é", "web1;rm", "web1\t"])
def test_bad_names(bad):
    if bad == "web1.":  # a final dot is fine
        assert host_name(bad, "name") == "web1"
        return
    with pytest.raises(InputError, match="not a valid host name"):
        host_name(bad, "GANETI_INSTANCE_NAME")


def test_name_length_limit():
    label = "a" * 63
    assert host_name(".".join([label] * 3) + ".abcdefghijklmnopqrstuvwxyz", "name")
    with pytest.raises(InputError):
        host_name(".".join([label] * 4), "name")
    with pytest.raises(InputError, match="longer than 253"):
        forward_name(".".join([label] * 3) + "." + "b" * 55, "example.org")  # 247 + 12


def test_reverse_names():
    assert reverse_name(ip_address("192.0.2.10")) == "10.2.0.192.in-addr.arpa."
    assert reverse_name(ip_address("2001:db8:0:1:a800:ff:fe44:5566")) == (
        "6.6.5.5.4.4.e.f.f.f.0.0.0.0.8.a.1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.")


def test_default_reverse_zones_are_the_24_and_the_64():
    assert reverse_zone(ip_address("192.0.2.10")) == "2.0.192.in-addr.arpa"
    assert reverse_zone(ip_address("10.1.2.3")) == "2.1.10.in-addr.arpa"
    assert reverse_zone(ip_address("2001:db8:0:1::5")) == "1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"


def test_configured_reverse_zones_longest_match_wins():
    zones = ("203.in-addr.arpa", "0.203.in-addr.arpa", "8.b.d.0.1.0.0.2.ip6.arpa", "3.0.203.in-addr.arpa")
    assert reverse_zone(ip_address("203.0.113.5"), zones) == "0.203.in-addr.arpa"
    assert reverse_zone(ip_address("203.1.113.5"), zones) == "203.in-addr.arpa"
    assert reverse_zone(ip_address("2001:db8:0:2::1"), zones) == "8.b.d.0.1.0.0.2.ip6.arpa"
    # A label boundary, not a string suffix: 13.0.203 is not inside 3.0.203.
    assert reverse_zone(ip_address("203.0.13.5"), zones) == "0.203.in-addr.arpa"
    # No configured zone contains it: the default.
    assert reverse_zone(ip_address("192.0.2.1"), zones) == "2.0.192.in-addr.arpa"


def test_classless_delegation_zone():
    # RFC 2317 zones like 0/26.2.0.192.in-addr.arpa hold CNAMEs, not the names we update;
    # a /25 written as its own zone name still works by suffix.
    assert reverse_zone(ip_address("192.0.2.10"), ("10.2.0.192.in-addr.arpa",)) == "10.2.0.192.in-addr.arpa"
