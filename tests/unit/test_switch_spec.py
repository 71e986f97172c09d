"""SWITCHES_FILE: what parses into which steps, and what is refused (one line, with file and line)."""

from __future__ import annotations

import pytest

from snf_network.errors import ConfigError
from snf_network.switch import spec
from snf_network.switch.steps import Step, of_switch

FILE = """
# the node's switches
[br0]
type = linux-bridge
bond = bond0            # LACP to the top-of-rack switch
members = eth2 eth3
bond-mode = 802.3ad
vlans = 100, 200-202
mtu = 9000

[ovs0]
type = openvswitch
uplink = eth1
vlans = 300
"""


def test_a_file_parses_into_switches_and_ordered_steps() -> None:
    switches = spec.parse(FILE, "switches")
    assert list(switches) == ["br0", "ovs0"]
    br0 = switches["br0"]
    assert (br0.bond, br0.members, br0.bond_mode, br0.lacp) == ("bond0", ("eth2", "eth3"), "802.3ad", "active")
    assert br0.vlans == (100, 200, 201, 202) and br0.mtu == 9000
    assert [(step.kind, step.dev) for step in of_switch(br0)] == [
        ("bridge", "br0"), ("bond", "bond0"), ("member", "eth2"), ("member", "eth3"), ("mtu", "bond0"),
        ("port", "bond0"), ("mtu", "br0"), ("vlan", "bond0"), ("vlan", "bond0"), ("vlan", "bond0"),
        ("vlan", "bond0")]
    ovs0 = of_switch(switches["ovs0"])
    assert ovs0 == [Step("ovs0", "ovs-bridge", "ovs0", ("system", "0")),
                    Step("ovs0", "ovs-port", "eth1", ("ovs0", "", "", "", "300", "0"))]
    assert Step.from_dict(ovs0[1].with_previous("created").to_dict()) == ovs0[1]


def test_802_3ad_on_open_vswitch_is_balance_tcp_with_lacp() -> None:
    switch = spec.parse("[o]\ntype = openvswitch\nbond = b\nmembers = e1 e2\nbond-mode = 802.3ad\n", "f")["o"]
    assert of_switch(switch)[1].args == ("o", "e1,e2", "balance-tcp", "active", "", "0")


@pytest.mark.parametrize(("text", "message"), [
    ("type = linux-bridge\n", "f:1: a setting before any [switch] header"),
    ("[br0]\ntype = linux-bridge\ncolour = red\n", "f:3: expected one of type, uplink"),
    ("[br0]\ntype = linux-bridge\ntype = linux-bridge\n", "f:3: type is set twice"),
    ("[br0]\ntype = linux-bridge\n[br0]\ntype = linux-bridge\n", "f:3: switch br0 is declared twice"),
    ("[a b]\ntype = linux-bridge\n", "not a valid interface name"),
    ("[br0]\ntype = linux-bridge\nuplink = $(reboot)\n", "plain words only"),
    ("[br0]\ntype = linux-bridge\nmembers = eth1\n", "members without a bond"),
    ("[br0]\ntype = linux-bridge\nbond = b0\n", "bond b0 has no members"),
    ("[br0]\ntype = linux-bridge\nbond = b0\nmembers = e1 e1\n", "listed twice"),
    ("[br0]\ntype = linux-bridge\nbond = b0\nmembers = e1\nlacp = active\n", "LACP in bond-mode 802.3ad"),
    ("[br0]\ntype = openvswitch\nbond = b0\nmembers = e1\nbond-mode = 802.3ad\nlacp = off\n", "cannot be off"),
    ("[br0]\ntype = linux-bridge\nuplink = eth1\nvlans = 4095\n", "VLAN ids go from 1 to 4094"),
    ("[br0]\ntype = linux-bridge\nuplink = eth1\nvlans = 20-10\n", "ranges upwards"),
    ("[br0]\ntype = linux-bridge\nvlans = 10\n", "the switch has none"),
    ("[br0]\ntype = linux-bridge\nmtu = 67\n", "mtu: expected a number from 68 to 65535"),
    ("[br0]\ntype = linux-bridge\ndatapath = netdev\n", "datapath is for openvswitch"),
    ("[br0]\ntype = linux-bridge\nuplink = br1\n[br1]\ntype = linux-bridge\n", "br1 is a switch of the file"),
    ("[br0]\ntype = linux-bridge\nuplink = br0\n", "need names of their own"),
])
def test_bad_files_are_one_line_with_the_place(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        spec.parse(text, "f")
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_missing_file_declares_nothing(tmp_path: object) -> None:
    assert spec.load(f"{tmp_path}/none") == {} and spec.load("") == {}
