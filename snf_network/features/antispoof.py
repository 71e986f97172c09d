"""Anti-spoofing on every NIC: a VM may only send as itself.

From the VM's port we pass only frames with its own MAC, ARP with its own
sender MAC and IP, IPv4 from its IP (or 0.0.0.0 towards a DHCP server), IPv6
from its EUI-64 address, its link-local address, or :: for duplicate address
detection, and neighbour advertisements and duplicate address detection
probes only for those addresses; router advertisements, DHCP/DHCPv6
server messages and relayed-looking DHCP requests (giaddr set) from a VM
are dropped, whatever their ports. The rules are fixed (below); a NIC only adds elements to the sets they
consult, keyed by interface name, so checking costs the same for one port or
for thousands. Bridged ports are checked in the bridge family, routed taps in
the inet and arp families.
"""

from __future__ import annotations

from snf_network.config import Config
from snf_network.features.base import Feature, RulesetInputs
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
    if nic.mode == "bridged" and nic.vlan:
        from snf_network import vlans

        # The VLANs a trunk or hybrid port's VM sends tagged (features/bridged.py puts them on the port).
        for vid in vlans.parse(nic.vlan).tagged:
            result.add(NftElement("bridge", "vlan_ok", f"{port} . {vid}"))
    for address in addresses:
        # nd_ok matches the raw target field of neighbour advertisements and
        # of duplicate address detection probes (nft 1.0.6 cannot name it),
        # so its elements are 128-bit integers.
        result.add(NftElement(l3, "ip6_ok", f"{port} . {address}"),
                   NftElement(l3, "nd_ok", f"{port} . 0x{int(address):032x}"))


# The rules: fixed text, in our snf tables (host/nft.py puts every feature's
# together). A NIC only adds elements to the sets they consult.
_PORT_SETS = """\
  set guarded { type ifname; }
  set mac_ok { type ifname . ether_addr; }
  set ip4_ok { type ifname . ipv4_addr; }
  set ip6_ok { type ifname . ipv6_addr; }
  set any4 { type ifname; }
  set any6 { type ifname; }
  set nd_ok { typeof iifname . @th,64,128; }"""

# What a VM may send at layer 3, for the inet (routed) and bridge (bridged)
# antispoof chains alike; plan() above fills the sets.
_SERVER_GUARDS = """\
    # No DHCP or DHCPv6 server and no router advertisements from a VM. Clients
    # listen on 68 and 546 and ISC dhclient takes an answer from any source
    # port, so whatever a VM sends there is a server's answer or a forgery.
    udp dport { 68, 546 } drop
    # Nor server messages to a server's or relay agent's port, which a relay
    # would pass on to a client: to 67 only BOOTREQUESTs (the op field), to
    # 547 only what clients send (Solicit, Request, Confirm, Renew, Rebind,
    # Release, Decline, Information-request; not Relay-forward, with which a
    # VM would ask for addresses of other links).
    udp dport 67 @th,64,8 != 1 drop
    # And a client's, not a relay agent's: with giaddr (BOOTP offset 24,
    # after the 8 of the UDP header) 0. A server answers a relayed request at
    # giaddr:67, so a VM naming another there would have the server send that
    # one a packet of the first one's making (its xid, its option 82).
    udp dport 67 @th,256,32 != 0 drop
    udp dport 547 @th,64,8 != { 1, 3, 4, 5, 6, 8, 9, 11 } drop
    icmpv6 type nd-router-advert drop"""
_SOURCES = """\
    ip saddr 0.0.0.0 udp sport 68 udp dport 67 accept
    meta protocol ip iifname != @any4 iifname . ip saddr != @ip4_ok drop
    icmpv6 type nd-neighbor-advert iifname != @any6 iifname . @th,64,128 != @nd_ok drop
    # Duplicate address detection (a solicitation from ::) only for the VM's
    # own addresses: a probe for another's fails that address (dadfailed)
    # while it is tentative. The target is where an advertisement's is.
    ip6 saddr :: icmpv6 type nd-neighbor-solicit iifname != @any6 iifname . @th,64,128 != @nd_ok drop
    ip6 saddr :: icmpv6 type { nd-neighbor-solicit, mld2-listener-report } accept
    meta protocol ip6 iifname != @any6 iifname . ip6 saddr != @ip6_ok drop"""
_INPUT = """  # A routed VM reaches the node only for what the node must answer, whichever
  # of the node's addresses it aims at (the tap's link-local address, an
  # uplink's): no service listening on :: or 0.0.0.0 is offered to tenants.
  # Bridged ports never match: their packets come in on the bridge.
  chain input {
    type filter hook input priority filter; policy accept;
    iifname != @guarded return
    # Replies to the node's own connections, and their ICMP errors.
    ct state established,related accept
    # Neighbour discovery and multicast listeners; ping, which operators and
    # guests expect of their gateway.
    icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert, mld-listener-report,
                  mld-listener-done, mld2-listener-report, echo-request } accept
    icmp type echo-request accept
    # DHCP and DHCPv6 to a responder on the node (nfdhcpd takes its own earlier, in prerouting).
    udp dport { 67, 547 } accept
    drop
  }

"""
_INET = ("  # Routed taps: who they are, and what each may send as.\n" + _PORT_SETS + "\n\n"
         + """  chain antispoof {
    type filter hook prerouting priority raw; policy accept;
    iifname != @guarded return
    iifname . ether saddr != @mac_ok drop
""" + _SERVER_GUARDS + "\n"
         + """    # A tap is a point-to-point link: only the host hears link-local traffic,
    # and its neighbour entries on this tap cannot capture another VM's
    # traffic, so any link-local source (privacy, stable-privacy) may talk to it.
    ip6 saddr fe80::/64 accept
""" + _SOURCES + "\n" + """  }

""" + _INPUT)
_ARP = """  set guarded { type ifname; }
  set mac_ok { type ifname . ether_addr; }
  set ip4_ok { type ifname . ipv4_addr; }
  set any4 { type ifname; }

  chain input {
    type filter hook input priority filter; policy accept;
    iifname != @guarded return
    iifname . arp saddr ether != @mac_ok drop
    arp saddr ip 0.0.0.0 accept
    iifname @any4 accept
    iifname . arp saddr ip != @ip4_ok drop
  }

"""
_BRIDGE = ("  # Bridged ports: the same checks, at layer 2.\n" + _PORT_SETS + "\n"
           + "  set vlan_ok { typeof iifname . vlan id; }\n\n"
           + """  chain antispoof {
    type filter hook prerouting priority -200; policy accept;
    iifname != @guarded return
    iifname . ether saddr != @mac_ok drop
    # IPv4, IPv6, ARP, and the RARP with which QEMU announces a migrated VM:
    # nothing else. A VLAN tag only on a port's own tagged VLANs (a trunk or
    # hybrid port of a VLAN-aware bridge: vlan_ok), one tag deep; the kernel
    # has taken the tag out of the frame by now, so meta protocol (and every
    # check below, whose implicit dependency it is) reads the inner type.
    ether type 8021q iifname . vlan id != @vlan_ok drop
    ether type 8021q vlan type != { ip, ip6, arp, 0x8035 } drop
    ether type != { ip, ip6, arp, 0x8035, 8021q } drop
    meta protocol 0x8035 accept
    meta protocol arp iifname . arp saddr ether != @mac_ok drop
    meta protocol arp arp saddr ip 0.0.0.0 accept
    meta protocol arp iifname @any4 accept
    meta protocol arp iifname . arp saddr ip != @ip4_ok drop
""" + _SERVER_GUARDS + "\n" + _SOURCES + "\n" + """  }

""")


def nft(cfg: Config, inputs: RulesetInputs) -> dict[str, str]:
    return {"inet": _INET, "arp": _ARP, "bridge": _BRIDGE}


FEATURE = Feature(
    "antispoof",
    answers=lambda cfg: "every routed or bridged NIC",
    summary=("its own MAC, ARP, IPv4 and IPv6 sources, ND and DAD targets only; no RA, DHCP or DHCPv6 server "
             "messages, whatever their ports; a routed VM reaches no service of the node but ND, ping and "
             "DHCP ([docs/firewall.md](docs/firewall.md))"),
    applies=applies,
    plan=plan,
    nft=nft,
)
