from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest

from snf_network import nic
from snf_network.errors import InputError

GOOD = {
    "INSTANCE": "vm1.example.org",
    "MAC": "AA:00:00:12:34:56",
    "MODE": "routed",
    "INTERFACE": "tap3",
    "INTERFACE_INDEX": "0",
    "IP": "192.0.2.10",
    "LINK": "rt_public",
    "TAGS": "synnefo:network:0:protected foo",
    "NETWORK_TAGS": "ip-less-routed nfdhcpd",
    "NETWORK_SUBNET": "192.0.2.0/24",
    "NETWORK_GATEWAY": "192.0.2.1",
    "NETWORK_SUBNET6": "2001:db8::/64",
    "NETWORK_GATEWAY6": "fe80::1",
    "NETWORK_MAC_PREFIX": "aa:00:00",
}


def test_a_full_kvm_environment() -> None:
    parsed = nic.from_env(GOOD)
    assert parsed.mac == "aa:00:00:12:34:56"
    assert parsed.ip == IPv4Address("192.0.2.10")
    assert parsed.index == 0
    assert parsed.tags == ("synnefo:network:0:protected", "foo")
    assert parsed.network.tags == ("ip-less-routed", "nfdhcpd")
    # mac2eui64's documented example.
    assert parsed.eui64 == IPv6Address("2001:db8::a800:ff:fe12:3456")
    assert parsed.link_local == IPv6Address("fe80::a800:ff:fe12:3456")
    assert nic.from_env(parsed.to_env()) == parsed


def test_grnet_ganeti_passes_the_tap_as_argument() -> None:
    env = {key: value for key, value in GOOD.items() if key != "INTERFACE"}
    assert nic.from_env(env, interface="tap9").interface == "tap9"


def test_eui64_only_for_a_64() -> None:
    assert nic.from_env({**GOOD, "NETWORK_SUBNET6": "2001:db8::/56"}).eui64 is None
    assert nic.from_env({**GOOD, "NETWORK_SUBNET6": ""}).eui64 is None


@pytest.mark.parametrize("value", ["", "None"])
def test_absent_empty_and_none_are_the_same(value: str) -> None:
    parsed = nic.from_env({**GOOD, "IP": value, "LINK": value, "NETWORK_GATEWAY": value})
    assert (parsed.ip, parsed.link, parsed.network.gateway) == (None, "", None)


def test_communication_nics() -> None:
    assert nic.from_env({**GOOD, "INTERFACE": "gnt.com.0"}).is_communication
    assert nic.from_env({**GOOD, "INTERFACE_NAME": "ganeti:communication:vm1"}).is_communication
    assert not nic.from_env(GOOD).is_communication


def test_hook_environment() -> None:
    env = {
        "GANETI_INSTANCE_NAME": "vm1.example.org",
        "GANETI_INSTANCE_TAGS": "a b",
        "GANETI_INSTANCE_NIC_COUNT": "2",
        "GANETI_INSTANCE_NIC1_MAC": "aa:00:00:00:00:01",
        "GANETI_INSTANCE_NIC1_IP": "",
        "GANETI_INSTANCE_NIC1_MODE": "bridged",
        "GANETI_INSTANCE_NIC1_LINK": "br0",
        "GANETI_INSTANCE_NIC1_NAME": "eth1",
        "GANETI_INSTANCE_NIC1_NETWORK_TAGS": "dns",
    }
    parsed = nic.from_hook_env(env, 1)
    assert (parsed.instance, parsed.index, parsed.name, parsed.interface) == ("vm1.example.org", 1, "eth1", "")
    assert parsed.ip is None and parsed.has_tag("dns") and parsed.tags == ("a", "b")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"MAC": "aa:00:00:12:34"}, "MAC: not a MAC address"),
        ({"MAC": "zz:00:00:12:34:56"}, "MAC: not a MAC address"),
        ({"MAC": "01:00:00:12:34:56"}, "multicast"),
        ({"MAC": ""}, "MAC: not set"),
        ({"IP": "192.0.2.300"}, "IP: not an IPv4 address"),
        ({"IP": "198.51.100.1"}, "IP: outside NETWORK_SUBNET 192.0.2.0/24: '198.51.100.1'"),
        ({"NETWORK_SUBNET": "192.0.2.1/24"}, "NETWORK_SUBNET: not an IPv4 subnet"),
        ({"NETWORK_SUBNET6": "2001:db8::/129"}, "NETWORK_SUBNET6: not an IPv6 subnet"),
        ({"NETWORK_SUBNET6": "192.0.2.0/24"}, "NETWORK_SUBNET6: not an IPv6 subnet"),
        ({"NETWORK_GATEWAY": "198.51.100.1"}, "NETWORK_GATEWAY: outside NETWORK_SUBNET 192.0.2.0/24"),
        ({"NETWORK_GATEWAY6": "2001:db8:ffff::1"}, "NETWORK_GATEWAY6"),
        ({"LINK": "main table"}, "LINK: not a valid routing table"),
        ({"LINK": "100;reboot"}, "LINK: not a valid routing table"),
        ({"LINK": "$(reboot)"}, "LINK: not a valid routing table"),
        ({"INTERFACE": "tap0;reboot"}, "INTERFACE: not a valid interface name"),
        ({"INTERFACE": "tap0 tap1"}, "INTERFACE: not a valid interface name"),
        ({"INTERFACE": "averyveryverylongname"}, "INTERFACE: not a valid interface name"),
        ({"INTERFACE": "../etc"}, "INTERFACE: not a valid interface name"),
        ({"INTERFACE": ""}, "INTERFACE: not set"),
        ({"MODE": ""}, "MODE: not set"),
        ({"MODE": "nat"}, "MODE: unknown mode"),
        ({"INSTANCE": "vm1;reboot"}, "INSTANCE: not a valid instance name"),
        ({"INSTANCE": "vm1\nreboot"}, "control characters"),
        ({"TAGS": "ok bad\"tag"}, "TAGS: not a Ganeti tag"),
        ({"NETWORK_TAGS": "ip-less-routed $x"}, "NETWORK_TAGS: not a Ganeti tag"),
        ({"NETWORK_MAC_PREFIX": "aa:00"}, "NETWORK_MAC_PREFIX"),
        ({"INTERFACE_INDEX": "first"}, "INTERFACE_INDEX"),
        ({"VLAN": "100:x"}, "VLAN"),
    ],
)
def test_bad_values_name_their_variable(change: dict[str, str], message: str) -> None:
    with pytest.raises(InputError) as error:
        nic.from_env({**GOOD, **change})
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_bridged_link_is_an_interface_name() -> None:
    with pytest.raises(InputError, match="LINK: not a valid interface name"):
        nic.from_env({**GOOD, "MODE": "bridged", "LINK": "br0;reboot"})


@pytest.mark.parametrize("vlan", ["", "100", ".100", ":100:200", ".100:200:300"])
def test_ganeti_vlan_forms(vlan: str) -> None:
    assert nic.from_env({**GOOD, "VLAN": vlan}).vlan == vlan


@pytest.mark.parametrize("vlan", ["100:200", ".", ":", "12345", ".1:", "a"])
def test_bad_vlans(vlan: str) -> None:
    with pytest.raises(InputError, match="VLAN"):
        nic.from_env({**GOOD, "VLAN": vlan})


@pytest.mark.parametrize("name", ["eth0", "ganeti:communication:vm1", "4e3c2a10-0000-4000-8000-000000000001"])
def test_names_and_uuids(name: str) -> None:
    assert nic.from_env({**GOOD, "INTERFACE_NAME": name}).name == name


@pytest.mark.parametrize("name", ["two words", "quote\"d", "back\\slash", "dollar$"])
def test_bad_names(name: str) -> None:
    with pytest.raises(InputError, match="INTERFACE_NAME"):
        nic.from_env({**GOOD, "INTERFACE_NAME": name})
