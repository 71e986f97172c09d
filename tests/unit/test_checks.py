"""The validators of outside values (snf_network/checks.py): each rule refuses the bad value by name, keeps the good."""

from __future__ import annotations

import pytest

from snf_network import checks, config, nic
from snf_network.errors import InputError
from snf_network.plan import Facts, Link, Sysctl

GOOD = {
    "INSTANCE": "vm1.example.org",
    "MAC": "aa:00:00:12:34:56",
    "MODE": "routed",
    "INTERFACE": "tap3",
    "IP": "192.0.2.10",
    "LINK": "100",
    "NETWORK_TAGS": "ip-less-routed",
    "NETWORK_SUBNET": "192.0.2.0/24",
    "NETWORK_GATEWAY": "192.0.2.1",
    "NETWORK_SUBNET6": "2001:db8::/64",
    "NETWORK_GATEWAY6": "fe80::1",
    "NETWORK_MAC_PREFIX": "aa:00:00",
}
# No network: the address-class rules apply on their own.
BARE = {**GOOD, "NETWORK_SUBNET": "", "NETWORK_GATEWAY": "", "NETWORK_SUBNET6": "", "NETWORK_GATEWAY6": ""}
CFG = config.Config()


def refused(env: dict[str, str], message: str) -> str:
    """The one line from_env (and check_nic) refuse ``env`` with; ``message`` must be in it."""
    with pytest.raises(InputError) as error:
        checks.check_nic(nic.from_env(env), CFG)
    text = str(error.value)
    assert message in text and "\n" not in text
    return text


def accepted(env: dict[str, str]) -> nic.Nic:
    parsed = nic.from_env(env)
    checks.check_nic(parsed, CFG)
    return parsed


# Messages.

def test_messages_show_a_bounded_repr_of_the_value() -> None:
    text = refused({**GOOD, "INTERFACE_NAME": "x y" + "z" * 500 + "end"}, "INTERFACE_NAME: not a valid name")
    assert text.startswith("INTERFACE_NAME: not a valid name: 'x yzzz")
    assert text.endswith("...") and len(text) < 120 and "end" not in text
    assert refused({**GOOD, "INSTANCE": "vm1\nERROR forged"}, "INSTANCE: control characters in value").endswith(
        ": 'vm1\\nERROR forged'")
    assert checks.shown("a\nb") == "'a\\nb'"


# The NIC's IP.

@pytest.mark.parametrize(("ip", "message"), [
    ("0.0.0.0", "IP: the unspecified address"),
    ("127.0.0.1", "IP: a loopback address"),
    ("224.0.0.1", "IP: a multicast address"),
    ("239.255.255.250", "IP: a multicast address"),
    ("169.254.1.1", "IP: a link-local address"),
    ("240.0.0.1", "IP: a reserved address"),
    ("255.255.255.255", "IP: a reserved address"),
])
def test_addresses_that_are_nobodys(ip: str, message: str) -> None:
    assert refused({**BARE, "IP": ip}, message).endswith(f": {ip!r}")


@pytest.mark.parametrize("ip", ["1.0.0.1", "10.0.0.1", "126.255.255.254", "128.0.0.1", "169.253.0.1", "223.255.255.1"])
def test_their_neighbours_are_addresses(ip: str) -> None:
    assert str(accepted({**BARE, "IP": ip}).ip) == ip


@pytest.mark.parametrize(("ip", "message"), [
    ("192.0.2.1", "IP: the network's gateway (NETWORK_GATEWAY) cannot be a NIC's address: '192.0.2.1'"),
    ("192.0.2.0", "IP: the network address of 192.0.2.0/24"),
    ("192.0.2.255", "IP: the broadcast address of 192.0.2.0/24"),
])
def test_the_networks_own_addresses(ip: str, message: str) -> None:
    refused({**GOOD, "IP": ip}, message)


@pytest.mark.parametrize("ip", ["192.0.2.2", "192.0.2.254"])
def test_the_first_and_last_host(ip: str) -> None:
    assert str(accepted({**GOOD, "IP": ip}).ip) == ip


def test_a_30_has_network_and_broadcast_addresses() -> None:
    env = {**GOOD, "NETWORK_SUBNET": "192.0.2.8/30", "NETWORK_GATEWAY": "192.0.2.9"}
    refused({**env, "IP": "192.0.2.8"}, "IP: the network address of 192.0.2.8/30")
    refused({**env, "IP": "192.0.2.11"}, "IP: the broadcast address of 192.0.2.8/30")
    accepted({**env, "IP": "192.0.2.10"})


@pytest.mark.parametrize(("subnet", "gateway", "ip"), [
    ("192.0.2.8/31", "192.0.2.9", "192.0.2.8"),  # RFC 3021: both addresses are hosts
    ("192.0.2.8/32", "", "192.0.2.8"),
])
def test_31_and_32_have_none(subnet: str, gateway: str, ip: str) -> None:
    accepted({**GOOD, "NETWORK_SUBNET": subnet, "NETWORK_GATEWAY": gateway, "IP": ip})


def test_the_gateway_rule_needs_no_subnet() -> None:
    refused({**BARE, "NETWORK_GATEWAY": "192.0.2.1", "IP": "192.0.2.1"}, "IP: the network's gateway")


# Gateways and the IPv6 subnet.

@pytest.mark.parametrize(("key", "value", "message"), [
    ("NETWORK_GATEWAY", "224.0.0.1", "NETWORK_GATEWAY: a multicast address cannot be a gateway"),
    ("NETWORK_GATEWAY", "0.0.0.0", "NETWORK_GATEWAY: the unspecified address cannot be a gateway"),
    ("NETWORK_GATEWAY", "127.0.0.1", "NETWORK_GATEWAY: a loopback address cannot be a gateway"),
    ("NETWORK_GATEWAY6", "ff02::1", "NETWORK_GATEWAY6: a multicast address cannot be a gateway"),
    ("NETWORK_GATEWAY6", "::", "NETWORK_GATEWAY6: the unspecified address cannot be a gateway"),
    ("NETWORK_GATEWAY6", "::1", "NETWORK_GATEWAY6: a loopback address cannot be a gateway"),
])
def test_gateways_that_route_nowhere(key: str, value: str, message: str) -> None:
    refused({**BARE, "IP": "", key: value}, message)


@pytest.mark.parametrize(("key", "value"), [
    ("NETWORK_GATEWAY", "223.255.255.254"), ("NETWORK_GATEWAY", "192.0.2.1"),
    ("NETWORK_GATEWAY6", "fe80::1"), ("NETWORK_GATEWAY6", "2001:db8::1"), ("NETWORK_GATEWAY6", "::2"),
])
def test_gateways(key: str, value: str) -> None:
    accepted({**BARE, "IP": "", key: value})


@pytest.mark.parametrize(("subnet", "message"), [
    ("fe80::/64", "NETWORK_SUBNET6: overlaps fe80::/10"),
    ("fe80::/10", "NETWORK_SUBNET6: overlaps fe80::/10"),
    ("::/0", "NETWORK_SUBNET6: overlaps fe80::/10"),
    ("ff02::/64", "NETWORK_SUBNET6: overlaps ff00::/8"),
    ("::/64", "NETWORK_SUBNET6: holds the unspecified or loopback address: '::/64'"),
    ("::1/128", "NETWORK_SUBNET6: holds the unspecified or loopback address"),
])
def test_ipv6_subnets_that_are_no_network(subnet: str, message: str) -> None:
    refused({**BARE, "NETWORK_SUBNET6": subnet}, message)


@pytest.mark.parametrize("subnet", ["2001:db8::/64", "fd00::/64", "fec0::/64", "::2/127", "1::/64"])
def test_ipv6_subnets(subnet: str) -> None:
    assert str(accepted({**BARE, "NETWORK_SUBNET6": subnet}).network.subnet6) == subnet


# LINK: the routing table.

@pytest.mark.parametrize(("link", "message"), [
    ("local", "LINK: the kernel's local (255) or unspec (0) table"),
    ("255", "LINK: the kernel's local (255) or unspec (0) table"),
    ("unspec", "LINK: the kernel's local (255) or unspec (0) table"),
    ("0", "LINK: routing table number out of range"),
    (str(2**32), "LINK: routing table number out of range"),
    ("0100", "LINK: ip would read this table number as octal or hex"),
    ("0xff", "LINK: ip would read this table number as octal or hex"),
])
def test_tables_no_nic_can_use(link: str, message: str) -> None:
    refused({**GOOD, "NETWORK_TAGS": "", "LINK": link}, message)
    refused({**GOOD, "LINK": link}, message)


@pytest.mark.parametrize("link", ["1", "100", "256", str(2**32 - 1), "rt_public", "x0100", "localnet"])
def test_tables(link: str) -> None:
    assert accepted({**GOOD, "LINK": link}).link == link


@pytest.mark.parametrize("link", ["main", "254", "default", "253"])
def test_ip_less_routed_needs_a_table_of_its_own(link: str) -> None:
    refused({**GOOD, "LINK": link},
            f"LINK: a network tagged ip-less-routed needs a routing table of its own, not the node's main or default "
            f"table: {link!r}")
    # Parsing alone keeps it: only check_nic knows the tag's name.
    assert nic.from_env({**GOOD, "LINK": link}).link == link


@pytest.mark.parametrize("link", ["main", "254", "default", "253"])
def test_a_plain_routed_nic_in_main_is_ganetis_classic_set_up(link: str) -> None:
    assert accepted({**GOOD, "NETWORK_TAGS": "nfdhcpd", "LINK": link}).link == link


def test_the_tag_name_comes_from_the_config() -> None:
    renamed = config.from_text("IP_LESS_ROUTED_TAG=routed-only")
    checks.check_nic(nic.from_env({**GOOD, "LINK": "main"}), renamed)
    with pytest.raises(InputError, match="LINK: a network tagged routed-only needs"):
        checks.check_nic(nic.from_env({**GOOD, "NETWORK_TAGS": "routed-only", "LINK": "main"}), renamed)


def test_bridged_links_are_not_tables() -> None:
    assert accepted({**GOOD, "MODE": "bridged", "LINK": "local"}).link == "local"  # a bridge may be named so


# MACs.

@pytest.mark.parametrize(("key", "value", "message"), [
    ("MAC", "00:00:00:00:00:00", "MAC: an all-zero MAC cannot be a NIC's address"),
    ("MAC", "01:00:5e:00:00:01", "MAC: a multicast MAC"),
    ("MAC", "ff:ff:ff:ff:ff:ff", "MAC: a multicast MAC"),
    ("MAC", "ab:00:00:00:00:01", "MAC: a multicast MAC"),
    ("NETWORK_MAC_PREFIX", "00:00:00", "NETWORK_MAC_PREFIX: an all-zero MAC prefix"),
    ("NETWORK_MAC_PREFIX", "01:00:5e", "NETWORK_MAC_PREFIX: a multicast prefix"),
    ("NETWORK_MAC_PREFIX", "FF:FF:FF", "NETWORK_MAC_PREFIX: a multicast prefix"),
])
def test_macs_that_are_no_nics(key: str, value: str, message: str) -> None:
    refused({**GOOD, key: value}, message)


@pytest.mark.parametrize(("key", "value"), [
    ("MAC", "00:00:00:00:00:01"), ("MAC", "02:00:00:00:00:00"), ("MAC", "fe:ff:ff:ff:ff:ff"),
    ("NETWORK_MAC_PREFIX", "00:00:01"), ("NETWORK_MAC_PREFIX", "aa:00:00"), ("NETWORK_MAC_PREFIX", "FE:FF:FF"),
])
def test_macs(key: str, value: str) -> None:
    parsed = accepted({**GOOD, key: value})
    assert value.lower() in (parsed.mac, parsed.network.mac_prefix)


# INTERFACE.

@pytest.mark.parametrize(("interface", "message"), [
    ("lo", "INTERFACE: the loopback interface is no NIC's: 'lo'"),
    ("all", "INTERFACE: /proc/sys/net/*/conf/all holds settings for every interface"),
    ("default", "INTERFACE: /proc/sys/net/*/conf/default holds settings for every interface"),
])
def test_interfaces_that_are_no_nics(interface: str, message: str) -> None:
    refused({**GOOD, "INTERFACE": interface}, message)
    with pytest.raises(InputError, match="LINK: "):
        nic.from_env({**GOOD, "MODE": "bridged", "LINK": interface})
    with pytest.raises(InputError, match="INTERFACE: "):
        checks.interface_name(interface)


@pytest.mark.parametrize("interface", ["lo0", "all0", "defaults", "tap0", "vif5.0"])
def test_interfaces(interface: str) -> None:
    assert accepted({**GOOD, "INTERFACE": interface}).interface == interface


# Where the rules apply.

def test_hook_variables_are_named_with_their_prefix() -> None:
    env = {"GANETI_INSTANCE_NAME": "vm1.example.org", "GANETI_INSTANCE_NIC0_MAC": "aa:00:00:00:00:01",
           "GANETI_INSTANCE_NIC0_MODE": "routed", "GANETI_INSTANCE_NIC0_IP": "192.0.2.1",
           "GANETI_INSTANCE_NIC0_NETWORK_GATEWAY": "192.0.2.1"}
    with pytest.raises(InputError, match="^GANETI_INSTANCE_NIC0_IP: the network's gateway "
                                         r"\(GANETI_INSTANCE_NIC0_NETWORK_GATEWAY\)"):
        nic.from_hook_env(env, 0)
    assert nic.from_hook_env({**env, "GANETI_INSTANCE_NIC0_IP": "192.0.2.2"}, 0).index == 0


def test_records_are_read_back_unchecked() -> None:
    # What an older version applied must stay removable.
    old = {**GOOD, "IP": "192.0.2.1", "LINK": "local", "NETWORK_SUBNET6": "fe80::/64"}
    refused(old, "IP: the network's gateway")
    assert nic.from_env(old, checked=False).link == "local"
    with pytest.raises(InputError, match="LINK: the kernel's local"):
        checks.check_nic(nic.from_env({**old, "IP": "192.0.2.10", "NETWORK_SUBNET6": ""}, checked=False), CFG)


def test_communication_nics_are_ganetis() -> None:
    # Ganeti's instance-communication network is link-local by design; Ganeti configures its NICs.
    env = {**GOOD, "INTERFACE": "gnt.com.0", "IP": "169.254.0.2", "NETWORK_SUBNET": "169.254.0.0/16",
           "NETWORK_GATEWAY": "", "NETWORK_SUBNET6": "fe80::/10", "NETWORK_GATEWAY6": ""}
    assert accepted(env).is_communication
    refused({**env, "INTERFACE": "tap3"}, "IP: a link-local address")


# Counts and indexes.

@pytest.mark.parametrize("count", ["", "-1", "two", "٣", "1.0", str(checks.MAX_NICS + 1), "9" * 30])
def test_bad_nic_counts(count: str) -> None:
    with pytest.raises(InputError, match=r"^GANETI_INSTANCE_NIC_COUNT: not a NIC count"):
        checks.nic_count(count)


@pytest.mark.parametrize("count", ["0", "8", str(checks.MAX_NICS)])
def test_nic_counts(count: str) -> None:
    assert checks.nic_count(count) == int(count)


def test_nic_indexes_are_below_the_count_limit() -> None:
    assert accepted({**GOOD, "INTERFACE_INDEX": str(checks.MAX_NICS - 1)}).index == checks.MAX_NICS - 1
    refused({**GOOD, "INTERFACE_INDEX": str(checks.MAX_NICS)}, "INTERFACE_INDEX: not a NIC index")


# Names.

@pytest.mark.parametrize(("name", "good"), [
    ("web1", True), ("WEB1.Example.ORG", True), ("0web-1", True), ("a", True), ("1.2.3.in-addr.arpa", True),
    ("web1.example.org.", True), ("a" * 63 + ".org", True),
    ("web_1", False), ("_dmarc.example.org", False), ("-web", False), ("web-", False), ("a..b", False),
    (".web", False), ("web1..", False), ("a" * 64 + ".org", False), ("é.org", False), ("web 1", False), ("", False),
    (".", False), ("0/26.2.0.192.in-addr.arpa", False),
])
def test_one_rule_for_host_and_zone_names(name: str, good: bool) -> None:
    assert checks.is_host_name(name) is good
    if good:
        assert checks.host_name(name, "FZONE") == name.rstrip(".").lower()
    else:
        with pytest.raises(InputError, match=r"^FZONE: not a valid host name: "):
            checks.host_name(name, "FZONE")


def test_instance_names_follow_ganeti_not_dns() -> None:
    # Ganeti allows _ in an instance name (--no-name-check); only the DNS hook cannot publish it.
    assert checks.is_instance_name("web_1.example.org") and not checks.is_host_name("web_1.example.org")
    assert not checks.is_instance_name("../etc") and not checks.is_instance_name("-rf")


# Values are immutable.

def test_values_cannot_change_after_construction() -> None:
    parsed = nic.from_env(GOOD)
    with pytest.raises(AttributeError, match=r"Nic\.mac is already set"):
        parsed.mac = "aa:00:00:00:00:02"
    with pytest.raises(AttributeError, match=r"Network\.tags is already set"):
        parsed.network.tags = ()
    with pytest.raises(AttributeError):
        del parsed.ip
    item = Sysctl("net/ipv4/conf/tap3/proxy_arp", "1")
    with pytest.raises(AttributeError, match=r"Sysctl\.previous is already set"):
        item.previous = "0"
    assert parsed == nic.from_env(GOOD) and hash(item) == hash(Sysctl("net/ipv4/conf/tap3/proxy_arp", "1", "x"))
    assert Link("tap3").dev == "tap3"


def test_hypervisor_and_index_come_through_the_constructor() -> None:
    assert nic.from_env(GOOD, hypervisor="xen").hypervisor == "xen"
    assert nic.from_env({**GOOD, "HYPERVISOR": "xen"}).hypervisor == "xen"
    with pytest.raises(InputError, match=r"^HYPERVISOR: expected kvm or xen: 'vmware'"):
        nic.from_env({**GOOD, "HYPERVISOR": "vmware"})


# Values that are the node's own (check_against_node, on what the probe read).

EUI64 = "2001:db8::a800:ff:fe12:3456"  # GOOD's MAC in GOOD's NETWORK_SUBNET6
NODE = Facts(
    interface_kind="tap",
    next_hops=(("198.51.100.1", "eth0", "main"), ("192.0.2.254", "eth0", "100"), ("fe80::1", "eth0", "main")),
    node_uplinks=(("eth0", "100"), ("eth0", "main"), ("bond0", "main")),
)


def against_node(env: dict[str, str], facts: Facts, message: str) -> str:
    """The one line check_against_node refuses the NIC with; ``message`` must be in it."""
    with pytest.raises(InputError) as error:
        checks.check_against_node(accepted(env), facts)
    text = str(error.value)
    assert message in text and "\n" not in text
    return text


def node_with(**changes: object) -> Facts:
    values = NODE.as_dict()
    values.update(changes)
    return Facts(**values)


def test_a_nic_apart_from_the_node_s_values_is_accepted() -> None:
    checks.check_against_node(accepted(GOOD), NODE)
    # Bridged and plain routed NICs alike; a Xen vif (a driver's own device) and a veth too.
    checks.check_against_node(accepted({**GOOD, "MODE": "bridged", "LINK": "br0"}), NODE)
    checks.check_against_node(accepted({**GOOD, "NETWORK_TAGS": "", "LINK": "main"}), NODE)
    checks.check_against_node(accepted({**GOOD, "INTERFACE": "vif5.0"}), node_with(interface_kind="device"))
    checks.check_against_node(accepted(GOOD), node_with(interface_kind="veth"))
    # An interface that does not exist has no kind: ifup says it does not exist, plan notes it.
    checks.check_against_node(accepted(GOOD), node_with(interface_kind="", interface_exists=False))


@pytest.mark.parametrize(("ip", "kind", "message"), [
    ("198.51.100.2", "local", "IP: an address of this node (on eth0): '198.51.100.2'"),
    ("192.0.2.255", "broadcast", "IP: a broadcast address of this node's networks (on br0): '192.0.2.255'"),
])
def test_an_ip_that_is_the_node_s_own_is_refused(ip: str, kind: str, message: str) -> None:
    env = {**GOOD, "IP": ip, "NETWORK_SUBNET": "", "NETWORK_GATEWAY": ""}
    device = "br0" if kind == "broadcast" else "eth0"
    assert against_node(env, node_with(local_routes=((ip, kind, device),)), message) == message


@pytest.mark.parametrize(("ip", "tags", "link", "message"), [
    # Today's harm: ``ip route replace 198.51.100.1/32 dev tap3 table main`` cuts the node off.
    ("198.51.100.1", "", "main", "IP: a next hop of this node's routes (a gateway of table main through eth0): "
     "'198.51.100.1'"),
    ("198.51.100.1", "ip-less-routed", "100", "a gateway of table main through eth0"),
    ("192.0.2.254", "ip-less-routed", "100", "IP: a next hop of this node's routes (a gateway of table 100 "
     "through eth0): '192.0.2.254'"),
])
def test_an_ip_that_is_a_next_hop_of_the_node_is_refused(ip: str, tags: str, link: str, message: str) -> None:
    env = {**GOOD, "IP": ip, "NETWORK_TAGS": tags, "LINK": link, "NETWORK_SUBNET": "", "NETWORK_GATEWAY": ""}
    against_node(env, NODE, message)


def test_a_bridged_nic_s_ip_is_checked_too() -> None:
    env = {**GOOD, "MODE": "bridged", "LINK": "br0", "IP": "198.51.100.1", "NETWORK_SUBNET": "",
           "NETWORK_GATEWAY": ""}
    against_node(env, NODE, "IP: a next hop of this node's routes")


def test_a_subnet_routed_to_the_vm_through_its_own_tap_is_no_conflict() -> None:
    """``203.0.113.0/24 via <IP> dev tap3``: the VM is that subnet's router, and ifup runs again on every hotplug."""
    checks.check_against_node(accepted(GOOD), node_with(next_hops=(("192.0.2.10", "tap3", "100"),)))
    against_node(GOOD, node_with(next_hops=(("192.0.2.10", "tap4", "100"),)), "IP: a next hop")


def test_an_eui64_address_that_is_the_node_s_is_refused() -> None:
    text = against_node(GOOD, node_with(local_routes=((EUI64, "local", "eth0"),)), "MAC: its EUI-64 address")
    assert text == (f"MAC: its EUI-64 address in NETWORK_SUBNET6, {EUI64}, is an address of this node (on eth0): "
                    "'aa:00:00:12:34:56'")
    assert "an anycast address" in against_node(GOOD, node_with(local_routes=((EUI64, "anycast", "eth0"),)), "MAC:")
    # Compared as addresses, not as text.
    long_form = "2001:db8:0:0:a800:ff:fe12:3456"
    against_node(GOOD, node_with(next_hops=((long_form, "eth0", "main"),)), "is a next hop of this node's routes")


def test_addresses_apart_from_the_nic_s_are_no_conflict() -> None:
    facts = node_with(local_routes=(("192.0.2.11", "local", "eth0"), ("2001:db8::1", "local", "eth0")))
    checks.check_against_node(accepted(GOOD), facts)


@pytest.mark.parametrize(("interface", "kind", "message"), [
    ("eth0", "veth", "INTERFACE: an uplink of this node (a default route of table 100 goes through it): 'eth0'"),
    ("bond0", "bond", "INTERFACE: an uplink of this node (a default route of table main goes through it): 'bond0'"),
    ("br0", "bridge", "INTERFACE: a bridge, not a VM's tap, Xen vif or veth: 'br0'"),
    ("bond1", "bond", "INTERFACE: a bond, not a VM's tap"),
    ("eth1", "device", "INTERFACE: a device of its own driver (hardware), not a VM's tap, Xen vif or veth: 'eth1'"),
    ("eth1.100", "vlan", "INTERFACE: a vlan device, not a VM's tap"),
    ("tun0", "tun", "INTERFACE: a layer-3 tun device, not a VM's tap"),
    ("lo0", "loopback", "INTERFACE: the loopback interface, not a VM's tap"),
    ("vif5.0x", "device", "INTERFACE: a device of its own driver"),
])
def test_an_interface_that_is_no_vm_s_is_refused(interface: str, kind: str, message: str) -> None:
    against_node({**GOOD, "INTERFACE": interface}, node_with(interface_kind=kind), message)


def test_the_node_checks_name_hook_variables_with_their_prefix() -> None:
    parsed = accepted(GOOD)
    with pytest.raises(InputError, match=r"^GANETI_INSTANCE_NIC0_INTERFACE: a bridge"):
        checks.check_against_node(parsed, node_with(interface_kind="bridge"), "GANETI_INSTANCE_NIC0_")


def test_communication_nics_are_checked_against_the_node_for_their_interface_only() -> None:
    # Their addresses are link-local (features/communication.py refuses others)...
    parsed = nic.from_env({**GOOD, "INTERFACE": "gnt.com.0", "IP": "198.51.100.1", "NETWORK_SUBNET": "",
                           "NETWORK_GATEWAY": ""})
    checks.check_against_node(parsed, node_with())
    # ... but a name alone does not make a bridge or an uplink a guest's tap.
    with pytest.raises(InputError, match=r"^INTERFACE: a bridge"):
        checks.check_against_node(parsed, node_with(interface_kind="bridge"))
    named = nic.from_env({**GOOD, "INTERFACE": "eth0", "INTERFACE_NAME": "ganeti:communication:vm1"})
    with pytest.raises(InputError, match=r"^INTERFACE: an uplink"):
        checks.check_against_node(named, node_with(node_uplinks=(("eth0", "main"),)))


@pytest.mark.parametrize(("name", "good"), [
    ("vif5.0", True), ("vif12.3", True), ("vif5.0-emu", False), ("vif5", False), ("vif.0", False),
    ("vif5.", False), ("xvif5.0", False), ("vif5.0.1", False), ("vif٣.0", False),
])
def test_xen_vif_names(name: str, good: bool) -> None:
    assert checks.is_xen_vif(name) is good
