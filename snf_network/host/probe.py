"""Reading what the features need to know about the host (read-only)."""

from __future__ import annotations

import os

from snf_network import profiles
from snf_network.config import Config
from snf_network.host import netlink
from snf_network.nic import Nic
from snf_network.plan import Facts


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def facts(nic: Nic, cfg: Config) -> Facts:
    tap = nic.interface
    exists = os.path.exists(f"/sys/class/net/{tap}")
    uplinks4: tuple[str, ...] = ()
    uplinks6: tuple[str, ...] = ()
    bridge_mtu = 0
    if nic.mode == "routed" and nic.link and nic.has_tag(cfg.IP_LESS_ROUTED_TAG):
        uplinks4 = netlink.default_route_devices(4, nic.link)
        uplinks6 = netlink.default_route_devices(6, nic.link) if nic.eui64 is not None else ()
    if nic.mode == "bridged" and nic.link and os.path.isdir(f"/sys/class/net/{nic.link}/bridge"):
        bridge_mtu = int(_read(f"/sys/class/net/{nic.link}/mtu") or 0)
    return Facts(
        interface_exists=exists,
        interface_mac=_read(f"/sys/class/net/{tap}/address") if exists else "",
        uplinks4=uplinks4,
        uplinks6=uplinks6,
        bridge_mtu=bridge_mtu,
        profiles=tuple(profiles.load(cfg.FIREWALL_PROFILES)),
    )
