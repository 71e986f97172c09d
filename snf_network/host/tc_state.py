"""What ``verify`` reads of tc's state: the node's qdiscs once, a NIC's classes and filters on demand."""

from __future__ import annotations

from snf_network import jsonlite
from snf_network.host.tc import FILTER_PREF
from snf_network.plan import IfbLink, IngressRedirect, Shaper
from snf_network.qos import show_rate

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from typing import Any

    from snf_network.host import Host
    from snf_network.plan import Item

_UNITS = {"bit": 1, "kbit": 10**3, "mbit": 10**6, "gbit": 10**9, "tbit": 10**12}


def printed_rate(text: str) -> float:
    """tc's own rendering of a rate (``20Mbit``, ``1.5Gbit``, ``800bit``) in bits per second; -1 if unreadable."""
    lowered = text.lower()
    for unit in ("kbit", "mbit", "gbit", "tbit", "bit"):
        if lowered.endswith(unit):
            try:
                return float(lowered[: -len(unit)]) * _UNITS[unit]
            except ValueError:
                return -1
    return -1


class TcState:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.roots: dict[str, tuple[str, str]] = {}
        self.ingress: set[str] = set()
        self.read = False  # the node's qdiscs, read once, when a record first holds tc items

    def read_qdiscs(self) -> None:
        self.read = True
        result = self.host.run(["tc", "-j", "qdisc", "show"], check=False)
        try:
            qdiscs: list[dict[str, Any]] = jsonlite.loads(result.stdout) if result.returncode == 0 else []
        except ValueError:
            qdiscs = []
        self.roots = {q.get("dev", ""): (q.get("kind", ""), q.get("handle", "")) for q in qdiscs if q.get("root")}
        self.ingress = {q.get("dev", "") for q in qdiscs if q.get("kind") == "ingress"}

    def class_rate(self, dev: str) -> float:
        result = self.host.run(["tc", "class", "show", "dev", dev, "classid", "1:1"], check=False)
        words = result.stdout.split()
        return printed_rate(words[words.index("rate") + 1]) if "rate" in words[:-1] else -1

    def redirects_to(self, dev: str) -> list[str]:
        result = self.host.run(["tc", "-j", "filter", "show", "dev", dev, "ingress"], check=False)
        try:
            filters: list[dict[str, Any]] = jsonlite.loads(result.stdout) if result.returncode == 0 else []
        except ValueError:
            return []
        return [action.get("to_dev", "") for entry in filters if entry.get("pref") == FILTER_PREF
                for action in entry.get("options", {}).get("actions", []) if action.get("kind") == "mirred"]

    def missing(self, items: list[Item]) -> list[str]:
        if not self.read:
            self.read_qdiscs()
        problems = []
        for item in items:
            if isinstance(item, Shaper):
                if self.roots.get(item.dev) != ("htb", "1:"):
                    problems.append(f"no shaper on {item.dev}")
                    continue
                rate = self.class_rate(item.dev)
                if abs(rate - item.rate) > item.rate * 0.005:
                    problems.append(f"the shaper on {item.dev} is not at {show_rate(item.rate)}")
            elif isinstance(item, IfbLink):
                flags = self.host.link_attribute(item.dev, "flags")
                if not flags:
                    problems.append(f"missing ifb {item.dev}")
                elif not int(flags, 16) & 1:
                    problems.append(f"ifb {item.dev} is down")
            elif isinstance(item, IngressRedirect) and (
                    item.dev not in self.ingress or item.to not in self.redirects_to(item.dev)):
                    problems.append(f"the ingress of {item.dev} is not redirected to {item.to}")
        return problems
