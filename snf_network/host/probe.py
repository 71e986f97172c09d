"""Reading what the features need to know about the host (read-only).

Only the facts the NIC's features declared (features/base.py ``needs``) are
read: a bridged NIC does not pay for route dumps, a routed one not for its
bridge.
"""

from __future__ import annotations

from snf_network import profiles
from snf_network.config import Config
from snf_network.host import Host
from snf_network.nic import Nic
from snf_network.plan import Facts


def facts(host: Host, nic: Nic, cfg: Config, needs: frozenset[str]) -> Facts:
    tap = nic.interface
    exists = host.link_exists(tap)
    uplinks4: tuple[str, ...] = ()
    uplinks6: tuple[str, ...] = ()
    if "uplinks4" in needs and nic.link:
        uplinks4 = host.default_route_devices(4, nic.link)
    if "uplinks6" in needs and nic.link and nic.eui64 is not None:
        uplinks6 = host.default_route_devices(6, nic.link)
    bridge_mtu = 0
    if "bridge_mtu" in needs and nic.link and host.is_bridge(nic.link):
        bridge_mtu = int(host.link_attribute(nic.link, "mtu") or 0)
    return Facts(
        interface_exists=exists,
        interface_mac=host.link_attribute(tap, "address") if exists and "interface_mac" in needs else "",
        uplinks4=uplinks4,
        uplinks6=uplinks6,
        bridge_mtu=bridge_mtu,
        profiles=tuple(profiles.load(cfg.FIREWALL_PROFILES)) if "profiles" in needs else (),
    )
