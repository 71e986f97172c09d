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
import re

from snf_network import log
from snf_network.config import Config
from snf_network.errors import CommandError
from snf_network.host.run import run
from snf_network.plan import NftElement

TABLE = "snf"


def ruleset(cfg: Config, with_queues: bool = True) -> str:
    """The rules, independent of any NIC (their per-port data lives in sets)."""
    queues = ""
    bridge_queues = ""
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
    return f"""\
table inet {TABLE} {{
  # Ports whose source addresses are checked, and the addresses each may use.
  set guarded {{ type ifname; }}
  set ip4_ok {{ type ifname . ipv4_addr; }}
  set ip6_ok {{ type ifname . ipv6_addr; }}
  set dhcp_ports {{ type ifname; }}

  chain antispoof {{
    type filter hook prerouting priority raw; policy accept;
    iifname != @guarded return
    # DHCP before the VM has an address.
    ip saddr 0.0.0.0 udp sport 68 udp dport 67 return
    iifname . ip saddr != @ip4_ok counter drop
    # Duplicate address detection and MLD before the VM has an address.
    ip6 saddr :: icmpv6 type {{ nd-neighbor-solicit, mld2-listener-report }} return
    iifname . ip6 saddr != @ip6_ok counter drop
  }}

  chain nfdhcpd {{
    type filter hook prerouting priority mangle; policy accept;{queues}
  }}
}}
table arp {TABLE} {{
  # The host's ARP requests to a routed VM carry the network's gateway as
  # sender, as if the gateway asked (the original's arptables mangle).
  map gateway {{ type ifname : ipv4_addr; }}

  chain output {{
    type filter hook output priority filter; policy accept;
    arp operation request oifname @gateway arp saddr ip set oifname map @gateway
  }}
}}
table bridge {TABLE} {{
  set dhcp_ports {{ type ifname; }}

  chain nfdhcpd {{
    type filter hook prerouting priority filter; policy accept;{bridge_queues}
  }}
}}
"""


def marker(cfg: Config) -> str:
    # Any change of the text changes the name; no security rests on it.
    return f"ruleset_{binascii.crc32(ruleset(cfg).encode()):08x}"


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


def apply(cfg: Config, add: list[NftElement], remove: list[NftElement]) -> None:
    """Apply element changes in one transaction, loading the ruleset first if needed."""
    changes = element_commands(add, remove)
    fast = [f"flush chain inet {TABLE} {marker(cfg)}", *changes]
    result = run(["nft", "-f", "-"], "\n".join(fast) + "\n", check=False)
    if result.returncode == 0:
        return
    load_ruleset(cfg, changes)


def load_ruleset(cfg: Config, changes: list[str] | None = None) -> None:
    """(Re)load our rules, keeping every set's elements, plus ``changes``, atomically."""
    mark = marker(cfg)
    stale = [name for name in _marker_chains() if name != mark]
    head = [f"add table {family} {TABLE}" for family in ("inet", "arp", "bridge")]
    head += [f"flush table {family} {TABLE}" for family in ("inet", "arp", "bridge")]
    head += [f"delete chain inet {TABLE} {name}" for name in stale]
    tail = [f"add chain inet {TABLE} {mark}", *(changes or [])]
    script = "\n".join([*head, ruleset(cfg), *tail]) + "\n"
    result = run(["nft", "-f", "-"], script, check=False)
    if result.returncode == 0:
        return
    # Kernels without nft_queue (CONFIG_NFT_QUEUE unset) refuse the queue
    # rules; everything else still works, nfdhcpd just gets no packets.
    without = "\n".join([*head, ruleset(cfg, with_queues=False), *tail]) + "\n"
    if run(["nft", "-f", "-"], without, check=False).returncode == 0:
        log.warning("this kernel cannot queue packets from nftables (nft_queue): "
                    "nfdhcpd will receive no DHCP, RS, NS or DHCPv6 packets")
        return
    raise CommandError(["nft", "-f", "-"], result.returncode, result.stderr)


def _marker_chains() -> list[str]:
    listing = run(["nft", "list", "chains", "inet"], check=False).stdout
    return re.findall(rf"chain ({'ruleset_'}[0-9a-f]+) ", listing)


def remove_all() -> None:
    """Delete our tables (``snf-network`` tests and uninstall)."""
    script = "".join(f"add table {family} {TABLE}\ndelete table {family} {TABLE}\n"
                     for family in ("inet", "arp", "bridge"))
    run(["nft", "-f", "-"], script)
