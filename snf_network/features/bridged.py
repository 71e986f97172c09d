"""Bridged NICs: the tap joins the bridge named by LINK, as Ganeti's own script does.

The tap's MTU follows the bridge's, and its MAC starts with ``fe`` so the
bridge (which takes the lowest MAC of its ports) never adopts a tap's MAC and
changes address when a VM stops (Ganeti's ``fix_mac``).
"""

from __future__ import annotations

from snf_network.config import Config
from snf_network.errors import InputError
from snf_network.features.base import Feature
from snf_network.nic import Nic
from snf_network.plan import BridgeVlan, Facts, Item, Link, Plan, UplinkVlan


def applies(nic: Nic, cfg: Config) -> bool:
    return nic.mode == "bridged"


def plan(nic: Nic, cfg: Config, facts: Facts, result: Plan) -> None:
    if not nic.link:
        raise InputError("LINK: not set (a bridged NIC needs a bridge)")
    if not facts.bridge_mtu:
        raise InputError(f"LINK: bridge {nic.link} does not exist on this node")
    vlan_items = _vlans(nic, facts) if nic.vlan else []
    # Xen's netback vifs already carry fe:ff:ff:ff:ff:ff. The same address on
    # every run, so that a second run finds nothing to change.
    address = "fe:" + facts.interface_mac[3:] if nic.hypervisor == "kvm" and facts.interface_mac else ""
    result.derived.update(BRIDGE=nic.link, INDEV=nic.link)
    result.add(Link(nic.interface, address=address, mtu=facts.bridge_mtu, master=nic.link), *vlan_items)


def _vlans(nic: Nic, facts: Facts) -> list[Item]:
    """A VLAN-aware bridge's port (Ganeti 3.0's semantics, snf_network/vlans.py): host/vlan.py."""
    from snf_network import vlans

    wanted = vlans.parse(nic.vlan)
    if not facts.vlan_filtering:
        # Without filtering the bridge ignores a port's VLANs: the VM would be on every one.
        raise InputError(f"VLAN: {nic.vlan}: bridge {nic.link} does not filter VLANs "
                         f"(ip link set {nic.link} type bridge vlan_filtering 1)")
    tagged = ",".join(map(str, wanted.tagged))
    items: list[Item] = [BridgeVlan(nic.interface, nic.link, pvid=wanted.native, tagged=tagged)]
    items += [UplinkVlan(uplink, vid, nic.interface) for uplink in facts.vlan_uplinks for vid in wanted.all]
    return items


FEATURE = Feature(
    "bridged",
    answers=lambda cfg: "`MODE=bridged`",
    summary=("the tap in the bridge `LINK`, with the bridge's MTU and an `fe:` MAC; with `VLAN`, its VLANs on a "
             "VLAN-aware bridge (VID 1 removed unless named; `VLAN_UPLINKS` get them tagged)"),
    applies=applies,
    needs=("bridge_mtu", "interface_mac", "vlan_filtering"),
    plan=plan,
)
