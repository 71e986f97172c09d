"""Anti-spoofing on every NIC: a VM may only send as itself.

From the VM's port we pass only frames with its own MAC, ARP with its own
sender MAC and IP, IPv4 from its IP (or 0.0.0.0 towards a DHCP server), IPv6
from its EUI-64 address, its link-local address, or :: for duplicate address
detection, and neighbour advertisements and duplicate address detection
probes only for those addresses; router advertisements and DHCP/DHCPv6
server messages from a VM are dropped, whatever their ports. The
rules are fixed (host/nft.py); a NIC only adds elements to the sets they
consult, keyed by interface name, so checking costs the same for one port or
for thousands. Bridged ports are checked in the bridge family, routed taps in
the inet and arp families.
"""

from __future__ import annotations

from snf_network.config import Config
from snf_network.features.base import Feature
from snf_network.nic import Nic
from snf_network.plan import Facts, NftElement, Plan


def applies(nic: Nic, cfg: Config) -> bool:
    return nic.mode in ("routed", "bridged")


def plan(nic: Nic, cfg: Config, facts: Facts, result: Plan) -> None:
    port = f'"{nic.interface}"'
    # Routed taps: IP checks in inet, ARP checks in arp. Bridged ports: all in bridge.
    l3 = "inet" if nic.mode == "routed" else "bridge"
    families = ("inet", "arp") if nic.mode == "routed" else ("bridge",)
    for family in families:
        result.add(NftElement(family, "guarded", port), NftElement(family, "mac_ok", f"{port} . {nic.mac}"))
    if nic.ip is not None:
        for family in families:
            result.add(NftElement(family, "ip4_ok", f"{port} . {nic.ip}"))
    elif cfg.NIC_WITHOUT_IP == "any":
        for family in families:
            result.add(NftElement(family, "any4", port))
    else:
        result.notes.append("no IP: only DHCP passes from the VM over IPv4 (NIC_WITHOUT_IP=dhcp-only)")
    addresses = [nic.link_local]
    if nic.eui64 is not None:
        addresses.append(nic.eui64)
    elif cfg.NIC_WITHOUT_IP == "any":
        result.add(NftElement(l3, "any6", port))
    for address in addresses:
        # nd_ok matches the raw target field of neighbour advertisements and
        # of duplicate address detection probes (nft 1.0.6 cannot name it),
        # so its elements are 128-bit integers.
        result.add(NftElement(l3, "ip6_ok", f"{port} . {address}"),
                   NftElement(l3, "nd_ok", f"{port} . 0x{int(address):032x}"))


FEATURE = Feature(
    "antispoof",
    answers=lambda cfg: "every routed or bridged NIC",
    summary=("its own MAC, ARP, IPv4 and IPv6 sources, ND and DAD targets only; no RA, DHCP or DHCPv6 server "
             "messages, whatever their ports; a routed VM reaches no service of the node but ND, ping and "
             "DHCP ([docs/firewall.md](docs/firewall.md))"),
    applies=applies,
    plan=plan,
)
