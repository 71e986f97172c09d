"""Reading the host's state back, to compare it with our records (snf-network verify, cleanup).

Operators' tools, not the hot path: a handful of ``ip -j`` dumps and ``nft``
queries for the whole node, compared item by item.
"""

from __future__ import annotations

import json
import os
import re

from snf_network.host import files, netlink, nft, sysctl
from snf_network.host.run import run
from snf_network.plan import BindingFile, Item, Link, NftElement, ProxyNeighbour, Route, Rule, Sysctl


class Snapshot:
    """Rules, routes and proxy entries of the whole node, read once."""

    def __init__(self) -> None:
        self.rules: set[tuple[int, str, int]] = set()
        self.routes: set[tuple[int, str, str, int]] = set()
        self.proxies: set[tuple[str, str]] = set()
        for family in (4, 6):
            for rule in _json(["ip", "-j", f"-{family}", "rule", "show"]):
                if "iif" in rule and "table" in rule:
                    self.rules.add((family, rule["iif"], _table(str(rule["table"]))))
            for route in _json(["ip", "-j", f"-{family}", "route", "show", "table", "all"]):
                table = _table(str(route.get("table", "main")))
                self.routes.add((family, _prefix(route["dst"], family), route.get("dev", ""), table))
        for entry in _json(["ip", "-j", "-6", "neigh", "show", "proxy"]):
            self.proxies.add((entry["dst"], entry.get("dev", "")))


def _json(argv: list[str]) -> list[dict[str, str]]:
    """ip's JSON output; every value we read from it is a string."""
    output = run(argv).stdout.strip()
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


def differences(items: list[Item], snapshot: Snapshot) -> list[str]:
    """What of ``items`` the host does not have, one line each."""
    problems: list[str] = []
    elements: list[NftElement] = []
    for item in items:
        if isinstance(item, Link):
            problems += _link(item)
        elif isinstance(item, Sysctl):
            if sysctl.exists(item.path) and sysctl.read(item.path) != item.value:
                problems.append(f"sysctl {item.path} is {sysctl.read(item.path)}, not {item.value}")
        elif isinstance(item, Rule):
            if (item.family, item.iif, _table(item.table)) not in snapshot.rules:
                problems.append(f"missing rule -{item.family} iif {item.iif} lookup {item.table}")
        elif isinstance(item, Route):
            key = (item.family, _prefix(item.destination, item.family), item.dev, _table(item.table))
            if key not in snapshot.routes:
                problems.append(f"missing route -{item.family} {item.destination} dev {item.dev} table {item.table}")
        elif isinstance(item, ProxyNeighbour):
            if (item.address, item.dev) not in snapshot.proxies:
                problems.append(f"missing proxy neighbour {item.address} on {item.dev}")
        elif isinstance(item, NftElement):
            elements.append(item)
        elif isinstance(item, BindingFile):
            content = files.read(item.path)
            if content != item.content:
                problems.append(f"{'missing' if content is None else 'changed'} file {item.path}")
    problems += [f"missing nft element {e.family} {e.set} {{ {e.element} }}" for e in missing_elements(elements)]
    return problems


def _link(item: Link) -> list[str]:
    base = f"/sys/class/net/{item.dev}"
    problems = []
    if item.master and os.path.realpath(f"{base}/master") != os.path.realpath(f"/sys/class/net/{item.master}"):
        problems.append(f"{item.dev} is not in bridge {item.master}")
    if item.address and _read(f"{base}/address") != item.address:
        problems.append(f"{item.dev} has MAC {_read(f'{base}/address')}, not {item.address}")
    if not int(_read(f"{base}/flags") or "0", 16) & 1:
        problems.append(f"{item.dev} is down")
    return problems


def _read(path: str) -> str:
    return (files.read(path) or "").strip()


def missing_elements(elements: list[NftElement]) -> list[NftElement]:
    """The elements nft does not have (one query per set; one per element only when some are missing)."""
    by_set: dict[tuple[str, str], list[NftElement]] = {}
    for element in elements:
        by_set.setdefault((element.family, element.set), []).append(element)
    missing = []
    for (family, name), group in by_set.items():
        if _has(family, name, [element.element for element in group]):
            continue
        missing += [element for element in group if not _has(family, name, [element.element])]
    return missing


def _has(family: str, name: str, elements: list[str]) -> bool:
    # Maps are queried by key: "tap1" : 192.0.2.1 -> "tap1".
    keys = [element.split(" : ")[0] for element in elements]
    argv = ["nft", "get", "element", family, nft.TABLE, name, "{ " + ", ".join(keys) + " }"]
    return run(argv, check=False).returncode == 0


_QUOTED = re.compile(r'"([^"]+)"')


def element_owners() -> dict[tuple[str, str], dict[str, list[str]]]:
    """For each of our sets: interface name -> the elements naming it, as nft prints them."""
    owners: dict[tuple[str, str], dict[str, list[str]]] = {}
    for family in ("inet", "arp", "bridge"):
        listing = run(["nft", "list", "table", family, nft.TABLE], check=False).stdout
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
