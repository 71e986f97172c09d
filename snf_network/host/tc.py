"""Bandwidth limits through tc: a shaper on the tap, and one on an ifb fed from the tap's ingress.

What the VM receives leaves the node through the tap: an HTB root qdisc
there shapes it. What the VM sends arrives on the tap, where only an ingress
qdisc sees it, and ingress can police but not shape (and this kernel has no
act_police anyway); so one u32 filter matching everything redirects it
(act_mirred) to the NIC's own ifb, whose egress HTB shapes it like the
tap's. A shaper queues what exceeds the rate, so TCP settles at the rate
instead of losing a burst of segments at every policer drop.

A NIC costs two processes whatever it holds: one ``ip -batch`` for the ifb
links, one ``tc -batch``. As in host/ip.py, every line is idempotent
(``replace``, delete before add) and says whether its failure matters.
"""

from __future__ import annotations

from snf_network.errors import SnfNetworkError
from snf_network.host import Backend
from snf_network.host.ip import batch
from snf_network.plan import IfbLink, IngressRedirect, Shaper

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Callable

    from snf_network.config import Config
    from snf_network.host import Host
    from snf_network.plan import Item

# The preference of our one ingress filter: deleting by it removes ours only.
FILTER_PREF = 4911
IFB_QUEUE = 1000  # packets; an ifb's own default of 32 drops TCP's bursts long before the shaper would


def _quantum(rate: int) -> int:
    # HTB's default (rate / r2q) warns above 200000 bytes and starves below a frame.
    return max(1600, min(rate // 8 // 10, 200_000))


def shaper_lines(item: Shaper) -> list[tuple[str, bool]]:
    burst = f" burst {item.burst} cburst {item.burst}" if item.burst else ""
    # HTB refuses "replace" of an HTB root ("change not supported"): a re-run
    # (reapply, an ifup with the same limit) starts the shaper afresh instead.
    return [(f"qdisc del dev {item.dev} root", False),
            (f"qdisc add dev {item.dev} root handle 1: htb default 1", True),
            (f"class add dev {item.dev} parent 1: classid 1:1 htb rate {item.rate}bit ceil {item.rate}bit"
             f"{burst} quantum {_quantum(item.rate)}", True)]


def redirect_lines(item: IngressRedirect) -> list[tuple[str, bool]]:
    return [(f"qdisc replace dev {item.dev} ingress", True),
            (f"filter del dev {item.dev} parent ffff: pref {FILTER_PREF}", False),
            # "u32 0 0" at offset 0 reads 4 bytes past the network header, so a frame with
            # less after its Ethernet header (a 14-byte RARP frame) would skip the shaper;
            # at -2 the key is the EtherType itself, which every frame has.
            (f"filter add dev {item.dev} parent ffff: pref {FILTER_PREF} protocol all u32 match u16 0 0 at -2 "
             f"action mirred egress redirect dev {item.to}", True)]


def add_lines(items: list[Item]) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    """(ip lines, tc lines) that make ``items`` so."""
    links: list[tuple[str, bool]] = []
    tc: list[tuple[str, bool]] = []
    for item in items:
        if isinstance(item, IfbLink):
            # "File exists" is fine: prepare() made sure it is an ifb.
            links += [(f"link add {item.dev} txqueuelen {IFB_QUEUE} type ifb", False),
                      (f"link set dev {item.dev} up", True)]
    for item in items:
        if isinstance(item, Shaper):
            tc += shaper_lines(item)
        elif isinstance(item, IngressRedirect):
            tc += redirect_lines(item)
    return links, tc


def remove_lines(items: list[Item]) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    """(tc lines, ip lines) that undo ``items``: gone already is fine (the tap went with its VM)."""
    tc = [(f"qdisc del dev {item.dev} ingress", False) for item in items if isinstance(item, IngressRedirect)]
    tc += [(f"qdisc del dev {item.dev} root", False) for item in items if isinstance(item, Shaper)]
    links = [(f"link del dev {item.dev}", False) for item in items if isinstance(item, IfbLink)]
    return tc, links


class TcBackend(Backend):
    kinds = (Shaper.kind, IfbLink.kind, IngressRedirect.kind)
    title = "tc"

    def prepare(self, host: Host, items: list[Item], old_items: list[Item]) -> list[Item]:
        ours = {old.dev for old in old_items if isinstance(old, IfbLink)}
        for item in items:
            if isinstance(item, IfbLink) and item.dev not in ours:
                # Never take over (or later delete) a device that is not ours. The record is
                # saved before any change, so an ifb a crashed ifup made is in old_items.
                kind = host.interface_kind(item.dev)
                if kind == "ifb":
                    raise SnfNetworkError(f"{item.dev} exists and no record of ours lists it: not taken as the "
                                          f"ifb of {item.tap} (delete it by hand if it is a leftover)")
                if kind:
                    raise SnfNetworkError(f"{item.dev} exists and is a {kind}, not the ifb of {item.tap}")
        return items

    def apply(self, host: Host, cfg: Config, add: list[Item], remove: list[Item]) -> None:
        tc, links = remove_lines(remove)
        new_links, new_tc = add_lines(add)
        # Removal first (a changed rate: the old shaper goes, the new one comes), the
        # ifb links before the tc lines that name them.
        batch(host, ["tc", "-force", "-batch", "-"], tc)
        batch(host, ["ip", "-force", "-batch", "-"], links + new_links)
        batch(host, ["tc", "-force", "-batch", "-"], new_tc)

    def commands(self, cfg: Config, add: list[Item]) -> list[str]:
        links, tc = add_lines(add)
        return [f"ip {text}" for text, _ in links] + [f"tc {text}" for text, _ in tc]

    def checker(self, host: Host) -> Callable[[list[Item]], list[str]]:
        from snf_network.host import tc_state

        return tc_state.TcState(host).missing


BACKEND = TcBackend()
