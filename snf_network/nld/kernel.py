"""The daemon's view of the kernel, through pyroute2 (0.7.2, Debian 12's, and later).

Events: a thread owns a sync ``IPRoute`` bound to the neighbour and IPv4
route groups and hands each message to the asyncio loop
(``call_soon_threadsafe``), the pattern that works with both pyroute2's old
core and its asyncio rewrite. Reads (dumps) use a second ``IPRoute``; writes
go through batch.py, packed many to a send.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from collections.abc import Callable

from pyroute2 import IPRoute  # type: ignore[import-untyped]
from pyroute2.netlink.rtnl import (  # type: ignore[import-untyped]
    RTM_DELROUTE,
    RTM_GETNEIGH,
    RTM_NEWROUTE,
    RTMGRP_IPV4_ROUTE,
    RTMGRP_NEIGH,
)

from snf_network.nld.batch import Batch

RTN_UNICAST = 1


class Event:
    """What the daemon cares about in one netlink message."""

    __slots__ = ("kind", "ifindex", "ip", "lladdr", "table", "oif")

    def __init__(self, kind: str, ifindex: int = 0, ip: str = "", lladdr: str = "", table: int = 0,
                 oif: int = 0) -> None:
        self.kind, self.ifindex, self.ip, self.lladdr, self.table, self.oif = kind, ifindex, ip, lladdr, table, oif


def classify(msg: object) -> Event | None:
    """A neighbour request (a miss), a host route added or removed; None for everything else."""
    header = msg["header"]  # type: ignore[index]
    kind = header["type"]
    get_attr = msg.get_attr  # type: ignore[attr-defined]
    if kind == RTM_GETNEIGH:
        ip = get_attr("NDA_DST") or ""
        lladdr = get_attr("NDA_LLADDR") or ""
        if msg["family"] != socket.AF_INET:  # type: ignore[index]
            return None
        return Event("miss", ifindex=msg["ifindex"], ip=ip, lladdr=lladdr)  # type: ignore[index]
    if kind in (RTM_NEWROUTE, RTM_DELROUTE):
        if msg["family"] != socket.AF_INET or msg["dst_len"] != 32 or msg["type"] != RTN_UNICAST:  # type: ignore[index]
            return None
        if get_attr("RTA_GATEWAY") or get_attr("RTA_MULTIPATH"):
            return None  # an instance's route leads straight to its tap; a route via a gateway is no instance
        table = get_attr("RTA_TABLE") or msg["table"]  # type: ignore[index]
        return Event("route+" if kind == RTM_NEWROUTE else "route-", ip=get_attr("RTA_DST") or "",
                     table=int(table), oif=int(get_attr("RTA_OIF") or 0))
    return None


class Kernel:
    def __init__(self) -> None:
        self.ipr = IPRoute()
        self.thread: threading.Thread | None = None

    def close(self) -> None:
        self.ipr.close()

    def ifindex(self, name: str) -> int:
        found = self.ipr.link_lookup(ifname=name)
        return int(found[0]) if found else 0

    def host_routes(self, table: int, network: ipaddress.IPv4Network) -> dict[str, int]:
        """The /32 routes of ``table`` inside ``network``: address -> output interface."""
        found: dict[str, int] = {}
        for route in self.ipr.get_routes(family=socket.AF_INET, table=table):
            if route["dst_len"] != 32 or route["type"] != RTN_UNICAST or route.get_attr("RTA_GATEWAY") \
                    or route.get_attr("RTA_MULTIPATH"):
                continue
            dst = route.get_attr("RTA_DST")
            if dst and ipaddress.IPv4Address(dst) in network:
                found[dst] = int(route.get_attr("RTA_OIF") or 0)
        return found

    def neighbours(self, ifindex: int) -> dict[str, tuple[str, int]]:
        """The device's IPv4 neighbour entries: address -> (lladdr, state)."""
        found: dict[str, tuple[str, int]] = {}
        for entry in self.ipr.get_neighbours(family=socket.AF_INET, ifindex=ifindex):
            dst = entry.get_attr("NDA_DST")
            if dst and entry["ifindex"] == ifindex:
                found[dst] = (str(entry.get_attr("NDA_LLADDR") or ""), int(entry["state"]))
        return found

    def fdb(self, ifindex: int) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        for entry in self.ipr.fdb("dump", ifindex=ifindex):
            if entry["ifindex"] == ifindex:
                found.add((str(entry.get_attr("NDA_LLADDR")), str(entry.get_attr("NDA_DST"))))
        return found

    def batch(self) -> Batch:
        return Batch()

    def watch(self, loop: asyncio.AbstractEventLoop, handler: Callable[[Event], None]) -> None:
        """Start the event thread: every interesting message goes to ``handler`` in the loop."""
        events = IPRoute()
        events.bind(groups=RTMGRP_NEIGH | RTMGRP_IPV4_ROUTE)

        def reader() -> None:
            failures = 0
            while failures < 100:
                try:
                    messages = events.get()
                except Exception:  # an overrun (ENOBUFS): events were lost, so the daemon re-reads everything
                    failures += 1
                    loop.call_soon_threadsafe(handler, Event("overrun"))
                    continue
                failures = 0
                for msg in messages:
                    event = classify(msg)
                    if event is not None:
                        loop.call_soon_threadsafe(handler, event)

        self.thread = threading.Thread(target=reader, name="netlink-events", daemon=True)
        self.thread.start()
