"""Our nftables tables: one fixed ruleset, per-port state as set elements.

Every rule lives in the ``snf`` tables of the inet, arp and bridge families and
dispatches on the interface name through sets and maps, so the cost per packet
does not grow with the number of ports and bringing a NIC up only adds set
elements. All changes of one run go to ``nft -f -`` as one transaction: they
all apply, or none does.

The ruleset itself is loaded only when it is missing or differs from this
version: it contains an empty chain named after a hash of its own text, and
the per-NIC transaction starts by flushing that chain, which fails when it
does not exist. Only then do we pay for reloading the rules (their sets and
elements survive a reload).
"""

from __future__ import annotations

import binascii

from snf_network import log, profiles
from snf_network.config import Config
from snf_network.errors import CommandError
from snf_network.host import Backend
from snf_network.plan import NftElement

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Callable

    from snf_network.host import Host
    from snf_network.plan import Item

TABLE = "snf"
# Firewall profiles as (name, rule lines) pairs: snf_network/profiles.py.
Profiles = tuple[tuple[str, tuple[str, ...]], ...]


def ruleset(cfg: Config, profile_rules: Profiles, with_queues: bool = True) -> str:
    """The rules, independent of any NIC (their per-port data lives in sets)."""
    queues = bridge_queues = ""
    if with_queues:
        # nfdhcpd answers these itself; it finds the client by the tap the
        # packet came in on (its physindev or indev).
        queues = f"""
    iifname @dhcp_ports udp dport 67 queue num {cfg.NFDHCPD_DHCP_QUEUE}
    iifname @dhcp_ports icmpv6 type nd-router-solicit queue num {cfg.NFDHCPD_RS_QUEUE}
    iifname @dhcp_ports icmpv6 type nd-neighbor-solicit queue num {cfg.NFDHCPD_NS_QUEUE}
    iifname @dhcp_ports udp dport 547 queue num {cfg.NFDHCPD_DHCPV6_QUEUE}"""
        bridge_queues = f"""
    iifname @dhcp_ports udp dport 67 queue num {cfg.NFDHCPD_DHCP_QUEUE}"""
    chains = "".join(_profile_chain(name, lines) for name, lines in profile_rules)
    marks = ", ".join(f"0x{profiles.mark(name):08x} : jump {profiles.chain(name)}" for name, _ in profile_rules)
    return f"""\
table inet {TABLE} {{
  # Routed taps: who they are, and what each may send as (features/antispoof.py).
{_PORT_SETS}
  set dhcp_ports {{ type ifname; }}
  map profile_port {{ type ifname : verdict; }}

  chain antispoof {{
    type filter hook prerouting priority raw; policy accept;
    iifname != @guarded return
    iifname . ether saddr != @mac_ok drop
{_SERVER_GUARDS}
    # A tap is a point-to-point link: only the host hears link-local traffic,
    # and its neighbour entries on this tap cannot capture another VM's
    # traffic, so any link-local source (privacy, stable-privacy) may talk to it.
    ip6 saddr fe80::/64 accept
{_SOURCES}
  }}

  chain nfdhcpd {{
    type filter hook prerouting priority mangle; policy accept;{queues}
  }}

  # A routed VM reaches the node only for what the node must answer, whichever
  # of the node's addresses it aims at (the tap's link-local address, an
  # uplink's): no service listening on :: or 0.0.0.0 is offered to tenants.
  # Bridged ports never match: their packets come in on the bridge.
  chain input {{
    type filter hook input priority filter; policy accept;
    iifname != @guarded return
    # Replies to the node's own connections, and their ICMP errors.
    ct state established,related accept
    # Neighbour discovery and multicast listeners; ping, which operators and
    # guests expect of their gateway.
    icmpv6 type {{ nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert, mld-listener-report,
                  mld-listener-done, mld2-listener-report, echo-request }} accept
    icmp type echo-request accept
    # DHCP and DHCPv6 to a responder on the node (nfdhcpd takes its own earlier, in prerouting).
    udp dport {{ 67, 547 }} accept
    drop
  }}

  # Firewall profiles for traffic towards a NIC: routed taps by output
  # interface, bridged ports by the mark the bridge table set for them.
  chain profiles {{
    type filter hook forward priority filter; policy accept;
    oifname vmap @profile_port
    meta mark vmap {{ {marks} }}
  }}
{chains}}}
table arp {TABLE} {{
  set guarded {{ type ifname; }}
  set mac_ok {{ type ifname . ether_addr; }}
  set ip4_ok {{ type ifname . ipv4_addr; }}
  set any4 {{ type ifname; }}
  # The host's ARP requests to a routed VM carry the network's gateway as
  # sender, as if the gateway asked (the original's arptables mangle).
  map gateway {{ type ifname : ipv4_addr; }}

  chain input {{
    type filter hook input priority filter; policy accept;
    iifname != @guarded return
    iifname . arp saddr ether != @mac_ok drop
    arp saddr ip 0.0.0.0 accept
    iifname @any4 accept
    iifname . arp saddr ip != @ip4_ok drop
  }}

  chain output {{
    type filter hook output priority filter; policy accept;
    arp operation request oifname @gateway arp saddr ip set oifname map @gateway
  }}
}}
table bridge {TABLE} {{
  # Bridged ports: the same checks, at layer 2.
{_PORT_SETS}
  set dhcp_ports {{ type ifname; }}
  # private-filtered ports, and the MAC range their frames must come from.
  set filtered {{ type ifname; }}
  set prefix_ok {{ type ifname . ether_addr; flags interval; }}
  map profile_mark {{ type ifname : mark; }}

  chain antispoof {{
    type filter hook prerouting priority -200; policy accept;
    iifname != @guarded return
    iifname . ether saddr != @mac_ok drop
    # IPv4, IPv6, ARP, and the RARP with which QEMU announces a migrated VM:
    # nothing else, and no VLAN tags, which would hide a frame's real type
    # from every check below.
    ether type != {{ ip, ip6, arp, 0x8035 }} drop
    ether type 0x8035 accept
    ether type arp iifname . arp saddr ether != @mac_ok drop
    ether type arp arp saddr ip 0.0.0.0 accept
    ether type arp iifname @any4 accept
    ether type arp iifname . arp saddr ip != @ip4_ok drop
{_SERVER_GUARDS}
{_SOURCES}
  }}

  chain nfdhcpd {{
    type filter hook prerouting priority filter; policy accept;{bridge_queues}
  }}

  # Every frame leaving towards a private-filtered port, whether forwarded
  # or sent by the host, flooded or not, must come from its network's MACs.
  chain isolation {{
    type filter hook postrouting priority filter; policy accept;
    oifname @filtered oifname . ether saddr != @prefix_ok drop
  }}

  # Before br_netfilter (priority 0) hands the packet to the inet hooks.
  chain profile_marks {{
    type filter hook forward priority -100; policy accept;
    meta mark set oifname map @profile_mark
  }}
}}
"""


_PORT_SETS = """\
  set guarded { type ifname; }
  set mac_ok { type ifname . ether_addr; }
  set ip4_ok { type ifname . ipv4_addr; }
  set ip6_ok { type ifname . ipv6_addr; }
  set any4 { type ifname; }
  set any6 { type ifname; }
  set nd_ok { typeof iifname . @th,64,128; }"""

# What a VM may send at layer 3, for the inet (routed) and bridge (bridged)
# antispoof chains alike; features/antispoof.py fills the sets.
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


def _profile_chain(name: str, lines: tuple[str, ...]) -> str:
    body = "".join(f"    {line}\n" for line in lines)
    return f"""
  chain {profiles.chain(name)} {{
    ct state established,related accept
    ct state invalid drop
    meta l4proto {{ icmp, ipv6-icmp }} accept
{body}    drop
  }}
"""


def marker(cfg: Config, profile_rules: Profiles) -> str:
    # Any change of the text changes the name; no security rests on it.
    return f"ruleset_{binascii.crc32(ruleset(cfg, profile_rules).encode()):08x}"


def element_commands(add: list[NftElement], remove: list[NftElement]) -> list[str]:
    """Idempotent commands: adding twice is fine, removing a missing element too.

    ``delete element`` of a missing element aborts the whole transaction, so
    each removal first adds the element (nft 1.0.6 has no ``destroy``).
    """
    commands = []
    for element in remove:
        target = f"{element.family} {TABLE} {element.set} {{ {element.element} }}"
        commands += [f"add element {target}", f"delete element {target}"]
    for element in add:
        commands.append(f"add element {element.family} {TABLE} {element.set} {{ {element.element} }}")
    return commands


def apply(host: Host, cfg: Config, add: list[NftElement], remove: list[NftElement]) -> None:
    """Apply element changes in one transaction, loading the ruleset first if needed."""
    profile_rules = tuple(profiles.load(cfg.FIREWALL_PROFILES).items())
    changes = element_commands(add, remove)
    fast = [f"flush chain inet {TABLE} {marker(cfg, profile_rules)}", *changes]
    result = host.run(["nft", "-f", "-"], "\n".join(fast) + "\n", check=False)
    if result.returncode == 0:
        return
    load_ruleset(host, cfg, profile_rules, changes)


def load_ruleset(host: Host, cfg: Config, profile_rules: Profiles, changes: list[str] | None = None) -> None:
    """(Re)load our rules, keeping every set's elements, plus ``changes``, atomically."""
    mark = marker(cfg, profile_rules)
    stale = [name for name in _marker_chains(host) if name != mark]
    head = [f"add table {family} {TABLE}" for family in ("inet", "arp", "bridge")]
    head += [f"flush table {family} {TABLE}" for family in ("inet", "arp", "bridge")]
    head += [f"delete chain inet {TABLE} {name}" for name in stale]
    tail = [f"add chain inet {TABLE} {mark}", *(changes or [])]
    script = "\n".join([*head, ruleset(cfg, profile_rules), *tail]) + "\n"
    result = host.run(["nft", "-f", "-"], script, check=False)
    if result.returncode == 0:
        _remember_counts(host, cfg, mark)
        return
    # Kernels without nft_queue (CONFIG_NFT_QUEUE unset) refuse the queue
    # rules; everything else still works, nfdhcpd just gets no packets.
    without = "\n".join([*head, ruleset(cfg, profile_rules, with_queues=False), *tail]) + "\n"
    if host.run(["nft", "-f", "-"], without, check=False).returncode == 0:
        _remember_counts(host, cfg, mark)
        log.warning("this kernel cannot queue packets from nftables (nft_queue): "
                    "nfdhcpd will receive no DHCP, RS, NS or DHCPv6 packets")
        return
    raise CommandError(["nft", "-f", "-"], result.returncode, result.stderr)


def _marker_chains(host: Host) -> list[str]:
    import re  # the slow path only

    listing = host.run(["nft", "list", "chains", "inet"], check=False).stdout
    return re.findall(rf"chain ({'ruleset_'}[0-9a-f]+) ", listing)


class NftBackend(Backend):
    kinds = (NftElement.kind,)
    title = "nft transaction"

    def apply(self, host: Host, cfg: Config, add: list[Item], remove: list[Item]) -> None:
        elements = [item for item in add if isinstance(item, NftElement)]
        stale = list(dict.fromkeys(item for item in remove if isinstance(item, NftElement)))
        if elements or stale:
            apply(host, cfg, elements, stale)

    def commands(self, cfg: Config, add: list[Item]) -> list[str]:
        return element_commands([item for item in add if isinstance(item, NftElement)], [])

    def checker(self, host: Host) -> Callable[[list[Item]], list[str]]:
        from snf_network.host import inspect

        def check(items: list[Item]) -> list[str]:
            elements = [item for item in items if isinstance(item, NftElement)]
            return [f"missing nft element {e.family} {e.set} {{ {e.element} }}"
                    for e in inspect.missing_elements(host, elements)]

        return check


BACKEND = NftBackend()


def _counts_path(cfg: Config) -> str:
    return f"{cfg.STATE_DIR}/ruleset.counts"  # not *.json: that is a record


def _loaded_counts(host: Host) -> dict[str, dict[str, int]] | None:
    """Rules per chain of our tables as the kernel holds them; None when a table is missing."""
    import json  # the slow path only

    counts: dict[str, dict[str, int]] = {}
    for family in ("inet", "arp", "bridge"):
        result = host.run(["nft", "-j", "list", "table", family, TABLE], check=False)
        if result.returncode != 0:
            return None
        chains = counts.setdefault(family, {})
        for entry in json.loads(result.stdout or "{}").get("nftables", []):
            if "chain" in entry:
                chains.setdefault(entry["chain"]["name"], 0)
            elif "rule" in entry:
                chains[entry["rule"]["chain"]] = chains.get(entry["rule"]["chain"], 0) + 1
    return counts


def _remember_counts(host: Host, cfg: Config, mark: str) -> None:
    """What the kernel made of the ruleset just loaded, for ``verify`` to compare with later."""
    import json  # the slow path only

    counts = _loaded_counts(host)
    if counts is not None:
        host.write(_counts_path(cfg), json.dumps({"marker": mark, "chains": counts}, indent=1) + "\n")


def ruleset_differences(host: Host, cfg: Config) -> list[str]:
    """How our loaded rules differ from this version's: tables gone, chains emptied or cut short.

    Counted per chain against what the kernel held right after we loaded the
    ruleset (nft prints rules in its own form, so counting is what compares
    reliably): ``nft flush ruleset`` (Debian's nftables.service starts with
    it), ``flush chain`` and ``delete rule`` all show. The per-port elements
    are checked item by item (host/inspect.py).
    """
    import json  # the slow path only

    fix = "(snf-network reapply restores it)"
    loaded = _loaded_counts(host)
    if loaded is None:
        return [f"an nft table {TABLE} is missing {fix}"]
    mark = marker(cfg, tuple(profiles.load(cfg.FIREWALL_PROFILES).items()))
    if mark not in loaded.get("inet", {}):
        return [f"the nft ruleset is not this version's {fix}"]
    try:
        saved = json.loads(host.read(_counts_path(cfg)) or "{}")
    except (OSError, ValueError):
        saved = {}
    if saved.get("marker") != mark:
        return []  # loaded before counts were kept: the marker is all we can compare
    problems = []
    for family, chains in saved.get("chains", {}).items():
        for chain, count in chains.items():
            if loaded.get(family, {}).get(chain) != count:
                have = loaded.get(family, {}).get(chain)
                problems.append(f"nft chain {family} {TABLE} {chain} has {'no' if have is None else have} rules, "
                                f"not {count} {fix}")
    return problems
