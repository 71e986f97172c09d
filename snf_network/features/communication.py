"""Ganeti's instance communication NICs: a guest, the node, and nothing else.

Ganeti gives a guest that asks for it a last NIC on a tap named
``gnt.com.N`` (its ``INTERFACE_NAME`` is ``ganeti:communication:<instance>``)
in a network of 169.254.0.0/16, routed, with no gateway. The node holds
169.254.169.254/32 on every such tap (the metadata daemon's address) and a
host route to the guest's /32 in the main table, as Ganeti's own
kvm-ifup-os does; one dnsmasq for the whole node (``snf-network
communication serve``) hands each guest its address from a hosts file built
from our records (host/communication.py).

The channel is exclusive (Ganeti's design asks it, and left it to the
operator): from such a tap the node takes only DHCP, ND, ping and the
operator's ports (COMMUNICATION_TCP_PORTS, COMMUNICATION_UDP_PORTS) at
169.254.169.254; nothing is forwarded from or to it, so a guest reaches
neither another guest nor anything beyond the node; and a guest may only
send as its own MAC and 169.254 address, and ask DHCP only for its own MAC.
A communication NIC gets this feature and no other (features.chosen).
"""

from __future__ import annotations

from ipaddress import IPv4Address

from snf_network.config import Config
from snf_network.errors import InputError
from snf_network.features.base import Feature, RulesetInputs
from snf_network.nic import Nic
from snf_network.plan import Facts, HostsEntry, Link, NftElement, Plan, Route, ServiceAddress, Sysctl, TxChecksum

SERVICE_ADDRESS = IPv4Address("169.254.169.254")
RESERVED = (SERVICE_ADDRESS, IPv4Address("169.254.0.0"), IPv4Address("169.254.255.255"))


def applies(nic: Nic, cfg: Config) -> bool:
    return nic.is_communication


def plan(nic: Nic, cfg: Config, facts: Facts, result: Plan) -> None:
    tap = nic.interface
    if nic.ip is None:
        raise InputError("IP: not set (a communication NIC is told its address by DHCP, which needs one)")
    # Nor 169.254.0.0 or 169.254.255.255, the /16's network and broadcast
    # addresses (the guest's DHCP lease is a /16).
    if not nic.ip.is_link_local or nic.ip in RESERVED:
        raise InputError(f"IP: a communication NIC's address is link-local and not {SERVICE_ADDRESS}, "
                         f"169.254.0.0 or 169.254.255.255: {str(nic.ip)!r}")
    port = f'"{tap}"'
    # LINK (communication_rt) is not used, as by Ganeti's own script: the
    # host route goes to main, and the forward filter keeps it from carrying
    # anything but the node's own traffic.
    result.derived.update(INDEV=tap)
    result.add(
        Link(tap),
        # The node answers ARP on the tap only for the tap's own address, not
        # for every address of the node (the guest learns nothing of them).
        Sysctl(f"net/ipv4/conf/{tap}/arp_ignore", "1"),
        Sysctl(f"net/ipv6/conf/{tap}/accept_ra", "0"),
        # As Ganeti's script does (ethtool -K tx off): a guest's DHCP client
        # reading from a raw socket would see dnsmasq's replies with a
        # checksum the offload had left to be filled in, and drop them.
        TxChecksum(tap, False),
        NftElement("inet", "comm_ports", port),
        NftElement("inet", "comm_mac", f"{port} . {nic.mac}"),
        NftElement("inet", "comm_ip4", f"{port} . {nic.ip}"),
        NftElement("inet", "comm_chaddr", f"{port} . 0x{nic.mac.replace(':', '')}"),
        NftElement("arp", "comm_ports", port),
        NftElement("arp", "comm_mac", f"{port} . {nic.mac}"),
        NftElement("arp", "comm_ip4", f"{port} . {nic.ip}"),
        ServiceAddress(tap, f"{SERVICE_ADDRESS}/32"),
        Route(4, f"{nic.ip}/32", tap, "main"),
        HostsEntry(tap, nic.mac, str(nic.ip), f"{cfg.COMMUNICATION_DIR}/hosts"),
    )


def _services(cfg: Config) -> str:
    lines = [f"    ip daddr {SERVICE_ADDRESS} {protocol} dport {{ {', '.join(map(str, ports))} }} accept\n"
             for protocol, ports in (("tcp", cfg.COMMUNICATION_TCP_PORTS), ("udp", cfg.COMMUNICATION_UDP_PORTS))
             if ports]
    return "".join(lines)


def nft(cfg: Config, inputs: RulesetInputs) -> dict[str, str]:
    inet = f"""  # Communication taps: who they are, what each may send as.
  set comm_ports {{ type ifname; }}
  set comm_mac {{ type ifname . ether_addr; }}
  set comm_ip4 {{ type ifname . ipv4_addr; }}
  # The client hardware address of a DHCP message (dnsmasq answers by it),
  # as the 48 bits at offset 28 of BOOTP, after the 8 of the UDP header.
  set comm_chaddr {{ typeof iifname . @th,288,48; }}

  chain communication_sources {{
    type filter hook prerouting priority raw; policy accept;
    iifname != @comm_ports return
    iifname . ether saddr != @comm_mac drop
    # No DHCP server, DHCPv6 or router advertisement from a guest, and DHCP
    # requests only (op 1) for its own MAC.
    udp dport {{ 68, 546, 547 }} drop
    udp dport 67 @th,64,8 != 1 drop
    udp dport 67 iifname . @th,288,48 != @comm_chaddr drop
    # And as a client, not a relay agent: from port 68, with giaddr (BOOTP
    # offset 24, after the 8 of the UDP header) 0. dnsmasq answers a relayed
    # request at giaddr:67, which would let a guest send another guest's
    # tap a packet of its choosing (its xid, its option 82).
    udp dport 67 udp sport != 68 drop
    udp dport 67 @th,256,32 != 0 drop
    icmpv6 type nd-router-advert drop
    ip saddr 0.0.0.0 udp sport 68 udp dport 67 accept
    meta protocol ip iifname . ip saddr != @comm_ip4 drop
    # Only to the node (its service address, or broadcast), before routing:
    # what would go beyond it, dropped later, would first get ICMP errors
    # (time exceeded for a TTL of 1, unreachable) telling the guest how the
    # node routes.
    ip daddr != {{ {SERVICE_ADDRESS}, 255.255.255.255 }} drop
    # Link-local IPv6 only (ND with the tap), whatever way the guest makes it.
    ip6 saddr :: icmpv6 type {{ nd-neighbor-solicit, mld2-listener-report }} accept
    meta protocol ip6 ip6 saddr != fe80::/64 drop
    ip6 daddr != {{ fe80::/64, ff02::/16 }} drop
  }}

  # What the node answers on them; before the other input chains, whose
  # accept would not stop this one's drop anyway.
  chain communication_node {{
    type filter hook input priority filter - 1; policy accept;
    # The service address is the node's own: anything routed to it (from an
    # uplink, a tenant's network) must not reach the metadata daemon.
    ip daddr {SERVICE_ADDRESS} iifname != @comm_ports iifname != "lo" drop
    iifname != @comm_ports return
    ct state established,related accept
    icmpv6 type {{ nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert, mld-listener-report,
                  mld-listener-done, mld2-listener-report }} accept
    udp dport 67 accept
    ip daddr {SERVICE_ADDRESS} icmp type echo-request accept
{_services(cfg)}    drop
  }}

  # Nothing goes through the node from or to a communication tap.
  chain communication_forward {{
    type filter hook forward priority filter - 1; policy accept;
    iifname @comm_ports drop
    oifname @comm_ports drop
  }}

  # dnsmasq answers a guest at its port 68, never at a relay's 67 (a second
  # guard against relayed-looking requests).
  chain communication_output {{
    type filter hook output priority filter; policy accept;
    oifname @comm_ports udp dport 67 drop
  }}

"""
    arp = f"""  set comm_ports {{ type ifname; }}
  set comm_mac {{ type ifname . ether_addr; }}
  set comm_ip4 {{ type ifname . ipv4_addr; }}

  chain communication {{
    type filter hook input priority filter; policy accept;
    iifname != @comm_ports return
    iifname . arp saddr ether != @comm_mac drop
    arp saddr ip != 0.0.0.0 iifname . arp saddr ip != @comm_ip4 drop
    # The one neighbour a guest has.
    arp daddr ip != {SERVICE_ADDRESS} drop
  }}

"""
    return {"inet": inet, "arp": arp}


FEATURE = Feature(
    "communication",
    answers=lambda cfg: "`gnt.com.*` taps (or `INTERFACE_NAME` `ganeti:communication:*`): Ganeti's instance "
                        "communication, instead of every other feature",
    summary=(f"{SERVICE_ADDRESS}/32 on the tap, a host route to its `IP`, a `MAC,IP` line in the node dnsmasq's "
             "hosts file (`snf-network communication serve`); it reaches only DHCP, ND, ping and "
             f"`COMMUNICATION_TCP_PORTS`/`COMMUNICATION_UDP_PORTS` at {SERVICE_ADDRESS}, nothing is forwarded "
             "from or to it, its own MAC and address only ([docs/communication.md](docs/communication.md))"),
    applies=applies,
    plan=plan,
    nft=nft,
)
