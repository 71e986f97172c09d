"""The few netlink requests the hot path makes itself, over a plain rtnetlink socket.

Finding a table's uplinks is two route dumps; doing them in process instead
of running ``ip`` twice saves two process starts on every ifup (pyroute2 would
cost far more to import than it saves). Proxy neighbour entries are also set
here: ``ip neigh`` first dumps every link of the node to resolve names, which
took 16 ms with 1000 VMs' taps present; one RTM_NEWNEIGH takes 0.1 ms. The
other writes stay with ``ip -batch``.
"""

from __future__ import annotations

import _socket  # the C module: ``socket``'s Python layer costs more than this whole file
import os
import struct

from snf_network.errors import InputError

NETLINK_ROUTE = 0
RTM_NEWROUTE, RTM_GETROUTE, RTM_NEWNEIGH, RTM_DELNEIGH = 24, 26, 28, 29
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP, NLM_F_REPLACE, NLM_F_CREATE = 0x1, 0x4, 0x300, 0x100, 0x400
NUD_PERMANENT, NTF_PROXY, NDA_DST = 0x80, 0x08, 1
NLMSG_ERROR, NLMSG_DONE = 2, 3
RTA_OIF, RTA_MULTIPATH, RTA_TABLE = 4, 9, 15
RT_TABLES = {"default": 253, "main": 254, "local": 255}
RT_TABLE_FILES = ("/etc/iproute2/rt_tables", "/usr/share/iproute2/rt_tables", "/usr/lib/iproute2/rt_tables")
RT_TABLE_DIRS = ("/etc/iproute2/rt_tables.d", "/usr/share/iproute2/rt_tables.d")


def table_id(table: str) -> int:
    """A routing table's number, from its number or its name in rt_tables (as ``ip`` reads them)."""
    if table.isdigit():
        return int(table)
    if table in RT_TABLES:
        return RT_TABLES[table]
    paths = list(RT_TABLE_FILES)
    for directory in RT_TABLE_DIRS:
        try:
            paths += [os.path.join(directory, name) for name in sorted(os.listdir(directory))
                      if name.endswith(".conf")]
        except OSError:
            continue
    for path in paths:
        try:
            with open(path, encoding="utf-8") as handle:
                for line in handle:
                    words = line.split("#", 1)[0].split()
                    if len(words) >= 2 and words[1] == table and words[0].isdigit():
                        return int(words[0])
        except OSError:
            continue
    raise InputError(f"LINK: routing table {table!r} is unknown on this node (not in rt_tables)")


def default_route_devices(family: int, table: str) -> tuple[str, ...]:
    """The devices of the default routes of ``table`` (several with ECMP or metrics)."""
    wanted = table_id(table)
    af = _socket.AF_INET if family == 4 else _socket.AF_INET6
    # With strict checking the kernel dumps only table ``wanted``: a node's
    # routed tables hold a host route per VM, and the main table may hold a
    # full routing table, none of which we want to read.
    request = struct.pack("BBBBBBBBI", af, 0, 0, 0, 0, 0, 0, 0, 0) + struct.pack("HHI", 8, RTA_TABLE, wanted)
    devices: list[str] = []
    for payload in _dump(request):
        # rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags.
        if payload[1] != 0 or payload[7] != 1:  # default (dst_len 0) unicast routes only
            continue
        found = attributes(payload, 12)
        rtm_table = struct.unpack_from("I", found[RTA_TABLE])[0] if RTA_TABLE in found else payload[4]
        if rtm_table != wanted:
            continue
        if RTA_OIF in found:
            devices.append(_name(struct.unpack_from("I", found[RTA_OIF])[0]))
        if RTA_MULTIPATH in found:
            nexthops = found[RTA_MULTIPATH]
            offset = 0
            while offset + 8 <= len(nexthops):
                length, _flags, _hops, ifindex = struct.unpack_from("HBBi", nexthops, offset)
                devices.append(_name(ifindex))
                offset += max((length + 3) & ~3, 8)
    return tuple(dict.fromkeys(devices))


def proxy_neighbour(add: bool, address: str, dev: str) -> None:
    """Add (or replace) or delete the proxy NDP entry for ``address`` on ``dev``, like ``ip -6 neigh``.

    Raises OSError with the kernel's errno (ENODEV for a missing device,
    ENOENT when deleting an entry that is not there).
    """
    try:
        ifindex = _socket.if_nametoindex(dev)
    except OSError:
        raise OSError(19, f"Cannot find device {dev!r}") from None
    ndmsg = struct.pack("BxxxiHBB", _socket.AF_INET6, ifindex, NUD_PERMANENT, NTF_PROXY, 0)
    destination = _socket.inet_pton(_socket.AF_INET6, address)
    payload = ndmsg + struct.pack("HH", 4 + len(destination), NDA_DST) + destination
    flags = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_CREATE | NLM_F_REPLACE if add else 0)
    _request(RTM_NEWNEIGH if add else RTM_DELNEIGH, flags, payload)


def _name(ifindex: int) -> str:
    return str(_socket.if_indextoname(ifindex))


def attributes(payload: bytes, offset: int) -> dict[int, bytes]:
    """A netlink message's attributes from ``offset`` on, by type (rtnetlink and nfnetlink alike)."""
    found: dict[int, bytes] = {}
    while offset + 4 <= len(payload):
        length, kind = struct.unpack_from("HH", payload, offset)
        if length < 4:
            break
        found[kind & 0x7FFF] = payload[offset + 4 : offset + length]
        offset += (length + 3) & ~3
    return found


SOL_NETLINK, NETLINK_GET_STRICT_CHK = 270, 12


def _dump(request: bytes) -> list[bytes]:
    return _exchange(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, request)


def _request(kind: int, flags: int, payload: bytes) -> None:
    _exchange(kind, flags, payload)


def _exchange(kind: int, flags: int, payload: bytes) -> list[bytes]:
    """Send one request; the payloads of the messages that answer it, up to its end or its acknowledgement.

    An error answer raises OSError with the kernel's errno.
    """
    sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW, NETLINK_ROUTE)
    try:
        if flags & NLM_F_DUMP:
            try:
                sock.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
            except OSError:
                pass  # kernels before 4.20 dump everything; callers filter anyway
        sock.sendall(struct.pack("IHHII", 16 + len(payload), kind, flags, 1, 0) + payload)
        messages: list[bytes] = []
        while data := sock.recv(65536):
            offset = 0
            while offset + 16 <= len(data):
                length, message, _flags, _seq, _pid = struct.unpack_from("IHHII", data, offset)
                if message == NLMSG_DONE:
                    return messages
                if message == NLMSG_ERROR:
                    error = -struct.unpack_from("i", data, offset + 16)[0]
                    if error:
                        raise OSError(error, os.strerror(error))
                    return messages  # the acknowledgement of a request
                messages.append(data[offset + 16 : offset + length])
                offset += (length + 3) & ~3
        return messages
    finally:
        sock.close()
