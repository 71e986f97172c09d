"""What the host should look like for one NIC, as plain data.

Features return these values; the engine diffs them against the interface's
record and hands them to the host backends. Every state item is a frozen
dataclass, so sets of them can be compared, and round-trips through JSON so
that the record on disk says, readably, what we changed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class Link:
    """Bring ``dev`` up, with an address, MTU or bridge master when given."""

    kind: ClassVar[str] = "link"
    dev: str
    address: str = ""
    mtu: int = 0
    master: str = ""


@dataclass(frozen=True, slots=True)
class Sysctl:
    """A /proc/sys value; ``previous`` (not compared) is restored on removal."""

    kind: ClassVar[str] = "sysctl"
    path: str  # relative to /proc/sys, e.g. net/ipv4/conf/tap3/proxy_arp
    value: str
    previous: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class Rule:
    """A policy rule ``iif <iif> lookup <table>``."""

    kind: ClassVar[str] = "rule"
    family: int
    iif: str
    table: str


@dataclass(frozen=True, slots=True)
class Route:
    kind: ClassVar[str] = "route"
    family: int
    destination: str
    dev: str
    table: str


@dataclass(frozen=True, slots=True)
class ProxyNeighbour:
    """Answer neighbour solicitations for ``address`` on ``dev`` (proxy NDP)."""

    kind: ClassVar[str] = "proxy_neighbour"
    address: str
    dev: str


@dataclass(frozen=True, slots=True)
class NftElement:
    """One element of one of our nftables sets or maps (``table`` is a family)."""

    kind: ClassVar[str] = "nft_element"
    family: str  # inet, arp or bridge: our table in that family is always "snf"
    set: str
    element: str  # nft syntax, e.g. "tap3" . 192.0.2.10


@dataclass(frozen=True, slots=True)
class BindingFile:
    """A file another daemon reads (nfdhcpd): written in place, removed on undo."""

    kind: ClassVar[str] = "file"
    path: str
    content: str


Item = Link | Sysctl | Rule | Route | ProxyNeighbour | NftElement | BindingFile
ITEM_TYPES: dict[str, type[Item]] = {
    cls.kind: cls for cls in (Link, Sysctl, Rule, Route, ProxyNeighbour, NftElement, BindingFile)
}


@dataclass(frozen=True, slots=True)
class Announce:
    """Tell the uplink's segment where an address now lives (GARP or unsolicited NA)."""

    protocol: str  # "arp" or "ndp"
    address: str
    dev: str


@dataclass(frozen=True, slots=True)
class Facts:
    """What the engine read from the host before planning (features stay pure)."""

    interface_exists: bool = True
    interface_mac: str = ""
    uplinks4: tuple[str, ...] = ()  # devices of the default routes in table LINK
    uplinks6: tuple[str, ...] = ()
    bridge_mtu: int = 0  # 0: LINK is not a bridge on this host


@dataclass
class Plan:
    features: list[str] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    announcements: list[Announce] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # why a part was skipped
    derived: dict[str, str] = field(default_factory=dict)  # exported to IFUP_EXTRA_SCRIPT

    def add(self, *items: Item) -> None:
        for item in items:
            if item not in self.items:
                self.items.append(item)


def item_to_dict(item: Item) -> dict[str, Any]:
    return {"kind": item.kind, **asdict(item)}


def item_from_dict(data: dict[str, Any]) -> Item:
    values = dict(data)
    cls = ITEM_TYPES[values.pop("kind")]
    return cls(**values)


def describe(item: Item) -> str:
    """One line an operator can read (plan and status output)."""
    if isinstance(item, Link):
        extras = [f"address {item.address}" if item.address else "",
                  f"mtu {item.mtu}" if item.mtu else "", f"master {item.master}" if item.master else ""]
        return " ".join(["link", item.dev, "up", *filter(None, extras)])
    if isinstance(item, Sysctl):
        return f"sysctl {item.path.replace('/', '.')} = {item.value}"
    if isinstance(item, Rule):
        return f"rule -{item.family} iif {item.iif} lookup {item.table}"
    if isinstance(item, Route):
        return f"route -{item.family} {item.destination} dev {item.dev} table {item.table}"
    if isinstance(item, ProxyNeighbour):
        return f"proxy neighbour {item.address} on {item.dev}"
    if isinstance(item, NftElement):
        return f"nft {item.family} snf @{item.set} {{ {item.element} }}"
    return f"file {item.path}"
