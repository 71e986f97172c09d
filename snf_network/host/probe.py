"""Reading what the features need to know about the host (read-only).

Only the facts the NIC's features declared (features/base.py ``needs``) are
read: a bridged NIC does not pay for its table's route dumps, a routed one not
for its bridge. What every NIC is checked against before the host is touched
(checks.check_against_node: the node's own addresses, next hops and uplinks,
and what kind of link INTERFACE is) is read for every NIC, cheaply: a route
lookup per address of the NIC, route dumps of table LINK (which a routed NIC
reads anyway) and of main's IPv4 routes, and a sysfs read for a tap.
"""

from __future__ import annotations

from snf_network import profiles
from snf_network.config import Config
from snf_network.host import Host
from snf_network.nic import Nic
from snf_network.plan import Facts

MAIN = 254
OWN = ("local", "broadcast", "anycast")  # route types that make an address the node's (host/netlink.py)


def facts(host: Host, nic: Nic, cfg: Config, needs: frozenset[str]) -> Facts:
    tap = nic.interface
    exists = host.link_exists(tap)
    dual = nic.eui64 is not None
    by_table: dict[tuple[int, str], tuple[str, ...]] = {}
    next_hops: list[tuple[str, str, str]] = []
    node_uplinks: list[tuple[str, str]] = []

    def dump(family: int, table: str, device: str = "") -> None:
        devices, hops = host.table_routes(family, table, device)
        if not device:
            by_table[family, table] = devices
            node_uplinks.extend((name, table) for name in devices)
        next_hops.extend((address, name, table) for address, name in hops)

    # A routed NIC's routes go to table LINK (main when LINK is unset).
    # (Not a communication NIC's: its LINK, communication_rt, is unused.)
    link = nic.link if nic.mode == "routed" and nic.link and nic.link != "main" and not nic.is_communication else ""
    if link:
        dump(4, link)
        if dual:
            dump(6, link)
    # Every NIC's addresses meet the node's own gateways, which are main's. Its
    # IPv4 routes are few (taps have no IPv4 address); its IPv6 ones include
    # a fe80::/64 per link, a thousand with a thousand taps (2 ms to dump): of
    # those, only the routes through the link the EUI-64 address is on can
    # have it as their next hop, and a lookup says which link that is.
    dump(4, "main")
    local_routes = []
    for address in (nic.ip, nic.eui64):
        if address is None:
            continue
        kind, table, device, routed = host.route_match(str(address))
        if kind in OWN:
            local_routes.append((str(address), kind, device))
        elif address.version == 6 and kind:
            if table != MAIN:
                dump(6, "main")  # another rule answered: read main itself
            elif not routed and device and device != tap:
                dump(6, "main", device)
            # Otherwise main reaches it through a gateway, on none of its links.
    uplinks4: tuple[str, ...] = ()
    uplinks6: tuple[str, ...] = ()
    if "uplinks4" in needs and nic.link:
        uplinks4 = _uplinks(host, by_table, 4, nic.link)
    if "uplinks6" in needs and nic.link and dual:
        uplinks6 = _uplinks(host, by_table, 6, nic.link)
    bridge_mtu = 0
    if "bridge_mtu" in needs and nic.link and host.is_bridge(nic.link):
        bridge_mtu = int(host.link_attribute(nic.link, "mtu") or 0)
    uplink_mtu = 0
    if "uplink_mtu" in needs and nic.mode == "routed" and nic.link:
        mtus = [int(host.link_attribute(device, "mtu") or 0) for device in _uplinks(host, by_table, 4, nic.link)]
        uplink_mtu = min((mtu for mtu in mtus if mtu), default=0)
    vlan_filtering = False
    vlan_uplinks: tuple[str, ...] = ()
    if "vlan_filtering" in needs and nic.vlan and bridge_mtu:
        vlan_filtering = host.link_attribute(nic.link, "bridge/vlan_filtering") == "1"
        vlan_uplinks = tuple(dev for dev in cfg.VLAN_UPLINKS if host.link_master(dev) == nic.link)
    return Facts(
        interface_exists=exists,
        interface_mac=host.link_attribute(tap, "address") if exists and "interface_mac" in needs else "",
        uplinks4=uplinks4,
        uplinks6=uplinks6,
        bridge_mtu=bridge_mtu,
        profiles=tuple(profiles.load(cfg.FIREWALL_PROFILES)) if "profiles" in needs else (),
        interface_kind=host.interface_kind(tap) if exists else "",
        local_routes=tuple(local_routes),
        next_hops=tuple(dict.fromkeys(next_hops)),
        node_uplinks=tuple(dict.fromkeys(node_uplinks)),
        uplink_mtu=uplink_mtu,
        vlan_filtering=vlan_filtering,
        vlan_uplinks=vlan_uplinks,
    )


def _uplinks(host: Host, dumped: dict[tuple[int, str], tuple[str, ...]], family: int, table: str) -> tuple[str, ...]:
    """The devices of ``table``'s default routes, from the dump above when it made one."""
    return dumped[family, table] if (family, table) in dumped else host.default_route_devices(family, table)
