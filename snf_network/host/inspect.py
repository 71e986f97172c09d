"""Reading the host's state back, to compare it with our records (snf-network verify, cleanup).

Operators' tools, not the hot path: a handful of ``ip -j`` dumps and ``nft``
queries for the whole node, compared item by item.
"""

from __future__ import annotations

import json
import re

from snf_network.host import Host, netlink
from snf_network.host.nft import TABLE
from snf_network.plan import Item, Link, NftElement, ProxyNeighbour, Route, Rule


class IpState:
    """Rules, routes and proxy entries of the whole node, read once, against which items are checked."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.rules: set[tuple[int, str, int | str]] = set()
        self.routes: set[tuple[int, str, str, int]] = set()
        self.proxies: set[tuple[str, str]] = set()
        for family in (4, 6):
            for rule in _json(host, ["ip", "-j", f"-{family}", "rule", "show"]):
                if "iif" in rule and "table" in rule:
                    self.rules.add((family, rule["iif"], _table(str(rule["table"]))))
                elif "iif" in rule and rule.get("action") == "unreachable":
                    self.rules.add((family, rule["iif"], f"unreachable {rule.get('priority', '')}"))
            for route in _json(host, ["ip", "-j", f"-{family}", "route", "show", "table", "all"]):
                table = _table(str(route.get("table", "main")))
                self.routes.add((family, _prefix(route["dst"], family), route.get("dev", ""), table))
        for entry in _json(host, ["ip", "-j", "-6", "neigh", "show", "proxy"]):
            self.proxies.add((entry["dst"], entry.get("dev", "")))

    def missing(self, items: list[Item]) -> list[str]:
        problems: list[str] = []
        for item in items:
            if isinstance(item, Link):
                problems += _link(self.host, item)
            elif isinstance(item, Rule):
                target = _table(item.table) if item.action == "lookup" else f"{item.action} {item.priority}"
                if (item.family, item.iif, target) not in self.rules:
                    problems.append(f"missing {item.describe()}")
            elif isinstance(item, Route):
                key = (item.family, _prefix(item.destination, item.family), item.dev, _table(item.table))
                if key not in self.routes:
                    problems.append(f"missing {item.describe()}")
            elif isinstance(item, ProxyNeighbour) and (item.address, item.dev) not in self.proxies:
                problems.append(f"missing {item.describe()}")
        return problems


def _json(host: Host, argv: list[str]) -> list[dict[str, str]]:
    """ip's JSON output; every value we read from it is a string."""
    output = host.run(argv).stdout.strip()
    return [{key: str(value) for key, value in entry.items()} for entry in json.loads(output)] if output else []


def _table(name: str) -> int:
    try:
        return netlink.table_id(name)
    except Exception:  # a table only ip knows the name of: compare names then
        return -1


def _prefix(destination: str, family: int) -> str:
    if destination == "default":
        return "0.0.0.0/0" if family == 4 else "::/0"
    if "/" not in destination:
        return f"{destination}/{32 if family == 4 else 128}"
    return destination


def _link(host: Host, item: Link) -> list[str]:
    problems = []
    if item.master and host.link_master(item.dev) != item.master:
        problems.append(f"{item.dev} is not in bridge {item.master}")
    address = host.link_attribute(item.dev, "address")
    if item.address and address != item.address:
        problems.append(f"{item.dev} has MAC {address}, not {item.address}")
    if not int(host.link_attribute(item.dev, "flags") or "0", 16) & 1:
        problems.append(f"{item.dev} is down")
    return problems


def missing_elements(host: Host, elements: list[NftElement]) -> list[NftElement]:
    """The elements nft does not have (one query per set; one per element only when some are missing)."""
    by_set: dict[tuple[str, str], list[NftElement]] = {}
    for element in elements:
        by_set.setdefault((element.family, element.set), []).append(element)
    missing = []
    for (family, name), group in by_set.items():
        if _has(host, family, name, [element.element for element in group]):
            continue
        missing += [element for element in group if not _has(host, family, name, [element.element])]
    return missing


def _has(host: Host, family: str, name: str, elements: list[str]) -> bool:
    # Maps are queried by key: "tap1" : 192.0.2.1 -> "tap1".
    keys = [element.split(" : ")[0] for element in elements]
    argv = ["nft", "get", "element", family, TABLE, name, "{ " + ", ".join(keys) + " }"]
    return host.run(argv, check=False).returncode == 0


_QUOTED = re.compile(r'"([^"]+)"')


def element_owners(host: Host) -> dict[tuple[str, str], dict[str, list[str]]]:
    """For each of our sets: interface name -> the elements naming it, as nft prints them."""
    owners: dict[tuple[str, str], dict[str, list[str]]] = {}
    for family in ("inet", "arp", "bridge"):
        listing = host.run(["nft", "list", "table", family, TABLE], check=False).stdout
        for name, body in re.findall(r"(?:set|map) (\w+) \{(.*?)\n\t\}", listing, re.S):
            if "elements = {" not in body:
                continue
            text = body.split("elements = {", 1)[1].rsplit("}", 1)[0]
            for element in (part.strip() for part in _split_elements(text)):
                found = _QUOTED.match(element)
                if found:
                    owners.setdefault((family, name), {}).setdefault(found.group(1), []).append(element)
    return owners


def _split_elements(text: str) -> list[str]:
    """Split nft's element list on top-level commas (map values may hold braces)."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        depth += char == "{"
        depth -= char == "}"
        current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part.strip()]
