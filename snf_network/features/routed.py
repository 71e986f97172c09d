"""Routed NICs: the VM is reached through the host, which routes and proxies for it.

With the ``ip-less-routed`` network tag (GRNET's routed networks) the host
has no address in the VM's network: a policy rule sends the tap's traffic to
table LINK, host routes in LINK lead back to the tap, the host answers ARP on
the tap (proxy ARP) and NDP for the VM on the uplink (a proxy entry), its own
ARP requests to the VM carry the network's gateway as sender, and anything the
VM sends from an address that is not its own is dropped (features/antispoof.py).
A plain routed NIC (no tag) gets what Ganeti's own kvm-ifup gives it: rule,
host route, proxy ARP.
"""

from __future__ import annotations

from snf_network.config import Config
from snf_network.features.base import Feature, RulesetInputs
from snf_network.nic import Nic
from snf_network.plan import Announce, Facts, Link, NftElement, Plan, ProxyNeighbour, Route, Rule, Sysctl


def applies(nic: Nic, cfg: Config) -> bool:
    return nic.mode == "routed"


def is_ip_less(nic: Nic, cfg: Config) -> bool:
    """GRNET's routed network: the node holds no address in it, and proxies for the VM."""
    return nic.mode == "routed" and nic.has_tag(cfg.IP_LESS_ROUTED_TAG)


def plan(nic: Nic, cfg: Config, facts: Facts, result: Plan) -> None:
    tap = nic.interface
    result.derived.update(TABLE=nic.link, INDEV=tap)
    if not is_ip_less(nic, cfg):
        _plain(nic, result)
        return
    # One MAC for every routed tap on every node: the VM's neighbour entry for
    # its gateway (and the tap's link-local fe80::ce47:52ff:fe4e:4554, its IPv6
    # router) stay valid across migrations. Xen fixes its vifs' MACs itself.
    result.add(
        Link(tap, address=cfg.TAP_CONSTANT_MAC if nic.hypervisor == "kvm" else ""),
        Sysctl(f"net/ipv4/conf/{tap}/proxy_arp", "1"),
        # Proxy ARP replies wait up to 0.8 s by default so that a real owner
        # on a shared segment can answer first; a tap has no other owner.
        Sysctl(f"net/ipv4/neigh/{tap}/proxy_delay", "0"),
        # The host routes for the VM; it must not configure itself from the VM's RAs.
        Sysctl(f"net/ipv6/conf/{tap}/accept_ra", "0"),
    )
    _ipv4(nic, facts, result)
    _ipv6(nic, facts, result)


# For ip-less-routed NICs, whose point is a table of their own: below every
# rule we add without a priority (the kernel numbers those down from the
# lowest one there is) and above the main table's (32766). When table LINK
# has no route for a packet, the lookup falls through to the next rule, and
# the VM's traffic must not go on to be routed by the main table.
FALLBACK_PRIORITY = 32765


def _fallback(family: int, tap: str) -> Rule:
    return Rule(family, tap, "", action="unreachable", priority=FALLBACK_PRIORITY)


def _plain(nic: Nic, result: Plan) -> None:
    tap = nic.interface
    result.add(Link(tap))
    if nic.ip is None:
        result.notes.append("routed NIC without IP: no route to it")
        return
    table = nic.link or "main"
    if nic.link:
        # No unreachable fallback here: Ganeti's own script adds none, and
        # classic set-ups keep only host routes in table LINK and let the
        # VMs' traffic go on to the main table.
        result.add(Rule(4, tap, table))
    result.add(Route(4, f"{nic.ip}/32", tap, table), Sysctl(f"net/ipv4/conf/{tap}/proxy_arp", "1"))


def _ipv4(nic: Nic, facts: Facts, result: Plan) -> None:
    tap = nic.interface
    gateway = nic.network.gateway
    # Each guard is a lesson of the original: without IP, a route line once
    # replaced the table's default route (snf-network commit 0363b08).
    missing = [name for name, value in (("IP", nic.ip), ("NETWORK_GATEWAY", gateway), ("LINK", nic.link))
               if not value]
    if missing or nic.ip is None or gateway is None:
        result.notes.append(f"IPv4 skipped: {', '.join(missing)} not set")
        return
    result.add(
        Rule(4, tap, nic.link),
        _fallback(4, tap),
        Route(4, f"{nic.ip}/32", tap, nic.link),
        NftElement("arp", "gateway", f'"{tap}" : {gateway}'),
    )
    if not facts.uplinks4:
        result.notes.append(f"no IPv4 default route in table {nic.link}: no gratuitous ARP")
    result.derived["UPLINK"] = " ".join(facts.uplinks4)
    for uplink in facts.uplinks4:
        result.announcements.append(Announce("arp", str(nic.ip), uplink))


def _ipv6(nic: Nic, facts: Facts, result: Plan) -> None:
    tap = nic.interface
    address = nic.eui64
    subnet6 = nic.network.subnet6
    if address is None:
        reason = "NETWORK_SUBNET6 not set" if subnet6 is None else f"{subnet6} is not a /64"
        result.notes.append(f"IPv6 skipped: {reason}")
        return
    if not nic.link:
        result.notes.append("IPv6 skipped: LINK not set")
        return
    result.derived["EUI64"] = str(address)
    result.add(
        Rule(6, tap, nic.link),
        _fallback(6, tap),
        Route(6, f"{address}/128", tap, nic.link),
    )
    if not facts.uplinks6:
        result.notes.append(f"no IPv6 default route in table {nic.link}: no proxy NDP entry")
    result.derived["UPLINK6"] = " ".join(facts.uplinks6)
    for uplink in facts.uplinks6:
        result.add(ProxyNeighbour(str(address), uplink))
        result.announcements.append(Announce("ndp", str(address), uplink))


# The host's ARP requests to a routed VM carry the network's gateway as sender.
_ARP = """  # The host's ARP requests to a routed VM carry the network's gateway as
  # sender, as if the gateway asked (the original's arptables mangle).
  map gateway { type ifname : ipv4_addr; }

  chain output {
    type filter hook output priority filter; policy accept;
    # No "oifname @gateway" test first: Debian 12's kernel (6.1) refuses a
    # map used as a set ("Invalid argument"), and a key missing from the map
    # already ends the rule there, leaving the request as it is.
    arp operation request arp saddr ip set oifname map @gateway
  }

"""


def nft(cfg: Config, inputs: RulesetInputs) -> dict[str, str]:
    return {"arp": _ARP}


FEATURE = Feature(
    "routed",
    answers=lambda cfg: f"`MODE=routed`; with network tag `{cfg.IP_LESS_ROUTED_TAG}`: GRNET's routed networks",
    summary=("with the tag: the constant tap MAC, `iif` rules and host routes (IPv4 `/32`, EUI-64 `/128`) in table "
             "`LINK`, proxy ARP on the tap, proxy NDP on the table's IPv6 uplinks, the host's ARP requests sent "
             "as the gateway, gratuitous ARP and unsolicited NA; without: Ganeti's own rule, host route and "
             "proxy ARP"),
    applies=applies,
    needs=("uplinks4", "uplinks6"),
    plan=plan,
    nft=nft,
)
