"""The two data planes of an overlay, with the same semantics: one neighbour entry per remote instance.

``gre``: kernel ip_gre, open-ended (no local, no remote), ARP on; a neighbour
entry's lladdr is the owning node's underlay IPv4 address (the original's data
plane). ``vxlan``: a VXLAN device without learning or flooding whose MAC is
derived from the node's underlay address (``mac_of``); a neighbour entry's
lladdr is the owning node's MAC, and one static FDB entry per peer maps that
MAC to the peer's address. A migration therefore changes one neighbour entry
with either backend.
"""

from __future__ import annotations

import ipaddress

from snf_network.overlay.config import Overlay


def mac_of(node_ip: str) -> str:
    """The VTEP MAC of a node: 02:00 (locally administered, unicast) and its IPv4 address."""
    packed = ipaddress.IPv4Address(node_ip).packed
    return "02:00:" + ":".join(f"{byte:02x}" for byte in packed)


def node_of_mac(mac: str) -> str | None:
    """The inverse of ``mac_of``; None for a MAC that is not a node's."""
    parts = mac.lower().split(":")
    if len(parts) != 6 or parts[:2] != ["02", "00"]:
        return None
    try:
        return str(ipaddress.IPv4Address(bytes(int(part, 16) for part in parts[2:])))
    except ValueError:
        return None


def lladdr_for(ov: Overlay, node_ip: str) -> str:
    return mac_of(node_ip) if ov.backend == "vxlan" else node_ip


def node_for(ov: Overlay, lladdr: str) -> str | None:
    """The node a neighbour entry's lladdr names. GRE's is 4 bytes: ``ip`` shows it dotted, pyroute2 as hex."""
    if ov.backend == "vxlan":
        return node_of_mac(lladdr)
    parts = lladdr.split(":")
    try:
        if len(parts) == 4:
            return str(ipaddress.IPv4Address(bytes(int(part, 16) for part in parts)))
        return str(ipaddress.IPv4Address(lladdr))
    except ValueError:
        return None


def overhead(ov: Overlay) -> int:
    """Bytes of encapsulation: outer IPv4 20 + GRE with key 8, or outer IPv4 20 + UDP 8 + VXLAN 8 + Ethernet 14."""
    return 28 if ov.backend == "gre" else 50


def create_command(ov: Overlay, local_ip: str, base: str) -> list[str]:
    if ov.backend == "gre":
        argv = ["ip", "link", "add", ov.device, "type", "gre", "key", str(ov.key), "ttl", str(ov.ttl)]
    else:
        argv = ["ip", "link", "add", ov.device, "type", "vxlan", "id", str(ov.key), "local", local_ip,
                "dstport", str(ov.port), "nolearning", "proxy", "l2miss", "l3miss", "ttl", str(ov.ttl), "noudpcsum"]
    if base:
        argv += ["dev", base]
    return argv


def matches(ov: Overlay, link: dict[str, object], local_ip: str) -> str:
    """'' when an existing device is ours as configured, else why not (from ``ip -j -d link show``)."""
    info = link.get("linkinfo") or {}
    assert isinstance(info, dict)
    kind = info.get("info_kind")
    data = info.get("info_data") or {}
    if kind != ov.backend:
        return f"{ov.device} exists and is not a {ov.backend} device (kind {kind})"
    if ov.backend == "vxlan":
        if data.get("id") != ov.key or data.get("local") != local_ip or data.get("port") != ov.port:
            return f"{ov.device} exists with another VNI, local address or port"
        if data.get("learning") is not False:
            return f"{ov.device} exists with learning on"
    else:
        if data.get("local") not in (None, "any") or data.get("remote") not in (None, "any"):
            return f"{ov.device} exists and is not open-ended (it has a local or remote address)"
        if "ikey" in data and str(data["ikey"]) not in (str(ipaddress.IPv4Address(ov.key)), str(ov.key)):
            return f"{ov.device} exists with another key"
    return ""
