"""No NIC may take what is the node's own (checks.check_against_node), against the real kernel.

Each refused NIC is one line on stderr, exit status 2, and the node exactly as
it was: without the check, an IP that is the node's gateway became ``ip route
replace <gateway>/32 dev <tap> table main`` and ``INTERFACE=eth0`` got the
tap's MAC. The NICs that look like them but are fine still come up.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.lab import NODE_IP, TABLE, UPSTREAM_IP, Lab, sh, snapshot

pytestmark = pytest.mark.kernel

MAC = "aa:00:00:12:34:56"
IP = "192.0.2.10"
MAC2 = "aa:00:00:00:00:02"
EUI64_2 = "2001:db8:1:0:a800:ff:fe00:2"  # MAC2's in the lab's 2001:db8:1::/64
# A NIC outside the lab's routed network: no subnet, so any address parses.
NO_NETWORK = {"NETWORK_SUBNET": None, "NETWORK_GATEWAY": None}
PLAIN_IN_MAIN = {"NETWORK_TAGS": "", "LINK": "main", **NO_NETWORK}


def node(*commands: str) -> Callable[[Lab], None]:
    """A set-up step: ``commands`` run in the node (before the snapshot)."""
    def setup(lab: Lab) -> None:
        for command in commands:
            lab.ns(lab.node, *command.split())

    return setup


def with_bond(lab: Lab) -> None:
    result = lab.ns(lab.node, "ip", "link", "add", "bond0", "type", "bond", check=False)
    if result.returncode != 0:
        pytest.skip(f"no bonding driver here ({result.stderr.strip()}): tested under Debian's kernel by "
                    "tests/kernel/test_debian_kernel.py")


CASES: dict[str, tuple[Callable[[Lab], None], dict[str, str | None], str]] = {
    "IP is the node's address": (
        node(), {"IP": NODE_IP, **NO_NETWORK}, f"IP: an address of this node (on eth0): '{NODE_IP}'"),
    "IP is a broadcast address of the node's network": (
        node(), {"IP": "198.51.100.255", **NO_NETWORK},
        "IP: a broadcast address of this node's networks (on eth0): '198.51.100.255'"),
    "IP is the node's gateway, plain routed NIC in main": (
        node(f"ip route add default via {UPSTREAM_IP}"), {"IP": UPSTREAM_IP, **PLAIN_IN_MAIN},
        f"IP: a next hop of this node's routes (a gateway of table main through eth0): '{UPSTREAM_IP}'"),
    "IP is the node's gateway, ip-less routed NIC": (
        node(f"ip route add default via {UPSTREAM_IP}"), {"IP": UPSTREAM_IP, **NO_NETWORK},
        "IP: a next hop of this node's routes (a gateway of table main through eth0)"),
    "IP is a next hop of table LINK": (
        node(f"ip route add 203.0.113.0/24 via 192.0.2.254 dev eth0 table {TABLE}"), {"IP": "192.0.2.254"},
        f"IP: a next hop of this node's routes (a gateway of table {TABLE} through eth0): '192.0.2.254'"),
    "IP is a next hop of a multipath route": (
        node("ip route add 203.0.113.0/24 nexthop via 198.51.100.7 dev eth0 nexthop via 198.51.100.8 dev eth0"),
        {"IP": "198.51.100.8", **NO_NETWORK}, "IP: a next hop of this node's routes (a gateway of table main"),
    "the EUI-64 address is the node's": (
        node(f"ip -6 addr add {EUI64_2}/64 dev eth0 nodad"), {},
        f"MAC: its EUI-64 address in NETWORK_SUBNET6, {EUI64_2}, is an address of this node (on eth0): '{MAC2}'"),
    "the EUI-64 address is a next hop of main": (
        node("ip -6 addr add 2001:db8:1::2/64 dev eth0 nodad", f"ip -6 route add 2001:db8:6::/64 via {EUI64_2}"), {},
        f"MAC: its EUI-64 address in NETWORK_SUBNET6, {EUI64_2}, is a next hop of this node's routes (a gateway of "
        "table main through eth0)"),
    "INTERFACE is the table's uplink": (
        node(), {"INTERFACE": "eth0"},
        f"INTERFACE: an uplink of this node (a default route of table {TABLE} goes through it): 'eth0'"),
    "INTERFACE is a bridge": (
        node("ip link add br0 type bridge"), {"INTERFACE": "br0"},
        "INTERFACE: a bridge, not a VM's tap, Xen vif or veth: 'br0'"),
    "INTERFACE is a layer-3 tun": (
        node("ip tuntap add dev tun3 mode tun"), {"INTERFACE": "tun3"},
        "INTERFACE: a layer-3 tun device, not a VM's tap, Xen vif or veth: 'tun3'"),
    "INTERFACE is a bond": (with_bond, {"INTERFACE": "bond0"}, "INTERFACE: a bond, not a VM's tap"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_nic_taking_the_node_s_own_is_one_line_and_changes_nothing(lab: Lab, case: str) -> None:
    setup, change, message = CASES[case]
    lab.build()
    vm = lab.add_vm(1, MAC)
    lab.program("kvm-vif-bridge", lab.ganeti_env(vm, ip=IP))  # a healthy NIC, to stay untouched
    other = lab.add_vm(2, MAC2)
    setup(lab)
    before = snapshot(lab)
    env = lab.ganeti_env(other, ip="192.0.2.20")
    env.update({key: value for key, value in change.items() if value is not None})
    for key in [key for key, value in change.items() if value is None]:
        del env[key]
    result = lab.program("kvm-vif-bridge", env, check=False)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert snapshot(lab) == before
    # ``snf-network plan`` refuses it the same way, and changes nothing either.
    planned = lab.program("snf-network", env, "plan", check=False)
    assert planned.returncode == 2 and message in planned.stderr
    assert snapshot(lab) == before


def test_what_only_looks_like_the_node_s_comes_up(lab: Lab) -> None:
    """A real tap, a classic routed NIC in the node's own LAN, a subnet routed to a VM through its tap."""
    lab.build()
    lab.ns(lab.node, "ip", "route", "add", "default", "via", UPSTREAM_IP)
    vm = lab.add_vm(1, MAC)
    env = lab.ganeti_env(vm, ip=IP)
    lab.program("kvm-vif-bridge", env)
    # Ganeti runs ifup again on hotplug and soft reboots: the VM's IP is now a next hop, through its own tap.
    lab.ns(lab.node, "ip", "route", "add", "203.0.113.0/24", "via", IP, "dev", vm.tap, "table", TABLE)
    again = lab.program("kvm-vif-bridge", env, check=False)
    assert again.returncode == 0, again.stderr
    # Ganeti's classic routed NIC: an address of the node's LAN (not its gateway), in main.
    classic = lab.add_vm(2, MAC2)
    result = lab.program("kvm-vif-bridge", lab.ganeti_env(classic, ip="198.51.100.50", **PLAIN_IN_MAIN),
                         check=False)
    assert result.returncode == 0, result.stderr
    assert "198.51.100.50 dev tap2" in lab.ns(lab.node, "ip", "route", "show", "table", "main").stdout
    # A tap as KVM makes it (tun_flags in sysfs), not a veth.
    sh("ip", "-n", lab.node, "tuntap", "add", "dev", "tap3", "mode", "tap")
    tap = lab.program("kvm-vif-bridge", lab.ganeti_env(classic, ip="192.0.2.30", INTERFACE="tap3",
                                                        MAC="aa:00:00:00:00:03"), check=False)
    assert tap.returncode == 0, tap.stderr
    for interface in ("tap1", "tap2", "tap3"):
        lab.program("kvm-vif-bridge", {**env, "INTERFACE": interface, "ACTION": "down"})
    assert list((lab.workdir / "state").glob("*.json")) == []
