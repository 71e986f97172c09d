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
from snf_network.plan import Facts, Link, Plan


def applies(nic: Nic, cfg: Config) -> bool:
    return nic.mode == "bridged"


def plan(nic: Nic, cfg: Config, facts: Facts, result: Plan) -> None:
    if not nic.link:
        raise InputError("LINK: not set (a bridged NIC needs a bridge)")
    if not facts.bridge_mtu:
        raise InputError(f"LINK: bridge {nic.link} does not exist on this node")
    if nic.vlan:
        # Ganeti skips its own bridge setup (VLAN-aware bridges included) when
        # our script exists: joining the bridge without the VLAN would put the
        # NIC on the wrong segment.
        raise InputError(f"VLAN: {nic.vlan}: VLANs on bridged NICs are not supported by snf-network yet")
    # Xen's netback vifs already carry fe:ff:ff:ff:ff:ff. The same address on
    # every run, so that a second run finds nothing to change.
    address = "fe:" + facts.interface_mac[3:] if nic.hypervisor == "kvm" and facts.interface_mac else ""
    result.derived.update(BRIDGE=nic.link, INDEV=nic.link)
    result.add(Link(nic.interface, address=address, mtu=facts.bridge_mtu, master=nic.link))


FEATURE = Feature(
    "bridged",
    answers=lambda cfg: "`MODE=bridged`",
    summary="the tap in the bridge `LINK`, with the bridge's MTU and an `fe:` MAC",
    applies=applies,
    needs=("bridge_mtu", "interface_mac"),
    plan=plan,
)
