"""The few netlink requests the hot path makes itself, over a plain rtnetlink socket.

Finding a table's uplinks is two route dumps; doing them in process instead
of running ``ip`` twice saves two process starts on every ifup (pyroute2 would
cost far more to import than it saves). The same dumps give the routes' next
hops; a route lookup per address and one link request tell whether a NIC's
address is the node's own and what kind of link its interface is (probe.py:
no NIC may take what is the node's). Proxy neighbour entries are also set
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
RTM_GETLINK = 18
RTM_NEWROUTE, RTM_GETROUTE, RTM_NEWNEIGH, RTM_DELNEIGH = 24, 26, 28, 29
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP, NLM_F_REPLACE, NLM_F_CREATE = 0x1, 0x4, 0x300, 0x100, 0x400
NUD_PERMANENT, NTF_PROXY, NDA_DST = 0x80, 0x08, 1
RTM_NEWADDR, RTM_DELADDR, IFA_ADDRESS, IFA_LOCAL = 20, 21, 1, 2
NLMSG_ERROR, NLMSG_DONE = 2, 3
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_MULTIPATH, RTA_TABLE, RTA_VIA = 1, 4, 5, 9, 15, 18
RTN_UNICAST, RTPROT_KERNEL, RT_SCOPE_LINK, RTM_F_FIB_MATCH = 1, 2, 253, 0x2000
# rtnetlink.h's RTN_UNICAST, and the types that make an address the node's own.
_ROUTE_TYPES = {1: "unicast", 2: "local", 3: "broadcast", 4: "anycast"}
IFLA_IFNAME, IFLA_LINKINFO, IFLA_INFO_KIND = 3, 18, 1
IFF_LOOPBACK = 0x8
# The attribute headers (length, type) of an RTA_GATEWAY, alone or inside
# RTA_MULTIPATH, and of an RTA_VIA (an IPv4 route through an IPv6 next hop).
_GATEWAY_HEADERS = {4: struct.pack("HH", 8, RTA_GATEWAY), 6: struct.pack("HH", 20, RTA_GATEWAY)}
_VIA6_HEADER = struct.pack("HH", 22, RTA_VIA)
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
    return table_routes(family, table)[0]


def table_routes(family: int, table: str, device: str = "") -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """One dump of ``table``: the devices of its default routes, and its routes' (next hop, device) pairs.

    A next hop is a gateway (RTA_GATEWAY, RTA_VIA), alone or in a multipath
    route; its device is the one it is reached through ('' when the route
    names none). ``device``: only the routes through it (the kernel filters).
    """
    wanted = table_id(table)
    af = _socket.AF_INET if family == 4 else _socket.AF_INET6
    # With strict checking the kernel dumps only table ``wanted``: a node's
    # routed tables hold a host route per VM, and the main table may hold a
    # full routing table; the local table, every address's routes.
    request = struct.pack("BBBBBBBBI", af, 0, 0, 0, 0, 0, 0, 0, 0) + struct.pack("HHI", 8, RTA_TABLE, wanted)
    if device:
        request += struct.pack("HHI", 8, RTA_OIF, _socket.if_nametoindex(device))
    gateway = _GATEWAY_HEADERS[family]
    via = _VIA6_HEADER if family == 4 else b""  # the kernel has no IPv6 routes through IPv4 next hops
    devices: list[str] = []
    hops: list[tuple[str, str]] = []
    names: dict[int, str] = {}
    for payload in _dump(request):
        # rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags.
        if payload[1]:
            # Not a default route: wanted only through a gateway, which most
            # routes (one per VM, the kernel's fe80::/64 per link) are not.
            # Cheapest first: IPv4 routes through a gateway have universe
            # scope (the kernel refuses others), the kernel's own go to
            # links; then the raw bytes, in C: no gateway attribute header
            # (alone or in RTA_MULTIPATH), no gateway. A false match is parsed.
            if payload[6] >= RT_SCOPE_LINK or payload[5] == RTPROT_KERNEL:
                continue
            if gateway not in payload and not (via and via in payload):
                continue
        if payload[7] != RTN_UNICAST:
            continue
        default = payload[1] == 0
        found = attributes(payload, 12)
        rtm_table = struct.unpack_from("I", found[RTA_TABLE])[0] if RTA_TABLE in found else payload[4]
        if rtm_table != wanted:
            continue
        nexthops: list[tuple[int, dict[int, bytes]]] = []
        if RTA_OIF in found or RTA_GATEWAY in found or RTA_VIA in found:
            nexthops.append((struct.unpack_from("I", found[RTA_OIF])[0] if RTA_OIF in found else 0, found))
        if RTA_MULTIPATH in found:
            multipath = found[RTA_MULTIPATH]
            offset = 0
            while offset + 8 <= len(multipath):
                length, _flags, _hops, ifindex = struct.unpack_from("HBBi", multipath, offset)
                nexthops.append((ifindex, attributes(multipath[offset : offset + length], 8)))
                offset += max((length + 3) & ~3, 8)
        for ifindex, nexthop in nexthops:
            if ifindex and ifindex not in names:
                names[ifindex] = _name(ifindex)
            name = names.get(ifindex, "")
            if default and name:
                devices.append(name)
            address = _gateway(nexthop)
            if address:
                hops.append((address, name))
    return tuple(dict.fromkeys(devices)), tuple(dict.fromkeys(hops))


def _gateway(found: dict[int, bytes]) -> str:
    if RTA_GATEWAY in found:
        gateway = found[RTA_GATEWAY]
        return str(_socket.inet_ntop(_socket.AF_INET if len(gateway) == 4 else _socket.AF_INET6, gateway))
    if RTA_VIA in found and len(found[RTA_VIA]) > 2:
        via = found[RTA_VIA]
        return str(_socket.inet_ntop(struct.unpack_from("H", via)[0], via[2:]))
    return ""


def route_match(address: str) -> tuple[str, int, str, bool]:
    """The node's own route for ``address``: (type, table, device, through a gateway); ('', 0, '', False): none.

    One lookup, ``ip route get fibmatch <address>``: the entry that matches,
    not the route out. Type 'local', 'broadcast' or 'anycast' make the address
    the node's own: the kernel's local table, which rule 0 consults first,
    holds a local route for every address of every interface (up or down, lo's
    too), a broadcast route for each IPv4 network's ends, an anycast one for
    each IPv6 subnet-router address when forwarding. A lookup costs the same
    with 1000 taps on the node; dumping their addresses (fe80::/64 on each)
    would not.
    """
    af = _socket.AF_INET6 if ":" in address else _socket.AF_INET
    destination = _socket.inet_pton(af, address)
    request = struct.pack("BBBBBBBBI", af, len(destination) * 8, 0, 0, 0, 0, 0, 0, RTM_F_FIB_MATCH)
    request += struct.pack("HH", 4 + len(destination), RTA_DST) + destination
    try:
        answer = _exchange(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_ACK, request)
    except OSError:
        return "", 0, "", False  # no route at all (ENETUNREACH)
    for payload in answer:
        if len(payload) < 12:
            continue
        found = attributes(payload, 12)
        table = struct.unpack_from("I", found[RTA_TABLE])[0] if RTA_TABLE in found else payload[4]
        device = _name(struct.unpack_from("I", found[RTA_OIF])[0]) if RTA_OIF in found else ""
        routed = RTA_GATEWAY in found or RTA_VIA in found or RTA_MULTIPATH in found
        return _ROUTE_TYPES.get(payload[7], "other"), table, device, routed
    return "", 0, "", False


def link_kind(dev: str) -> str:
    """What ``ip -d link`` calls ``dev``'s kind (veth, bridge, bond, tun, vlan...); 'loopback' for lo.

    '' for a device no link type describes: a driver's own (hardware, Xen's
    netback vifs). Raises OSError (ENODEV) when there is no such device.
    """
    name = dev.encode() + b"\0"
    # ifinfomsg: family, type, index, flags, change; the device by name.
    request = struct.pack("BxHiII", _socket.AF_UNSPEC, 0, 0, 0, 0) + struct.pack("HH", 4 + len(name), IFLA_IFNAME)
    request += name + bytes(-len(name) % 4)
    for payload in _exchange(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, request):
        if len(payload) < 16:
            continue
        if struct.unpack_from("I", payload, 8)[0] & IFF_LOOPBACK:
            return "loopback"
        info = attributes(payload, 16).get(IFLA_LINKINFO)
        kind = attributes(info, 0).get(IFLA_INFO_KIND, b"") if info else b""
        return kind.rstrip(b"\0").decode("ascii", "replace")
    return ""


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


def set_address(add: bool, address: str, dev: str) -> None:
    """Add (or replace) or delete an IPv4 ``address/prefix`` on ``dev``, like ``ip address replace|del``.

    One request in process, not an ``ip`` process (a few ms of a communication NIC's up).
    Raises OSError with the kernel's errno (ENODEV, EADDRNOTAVAIL when deleting one not there).
    """
    host_part, _, prefix = address.partition("/")
    try:
        ifindex = _socket.if_nametoindex(dev)
    except OSError:
        raise OSError(19, f"Cannot find device {dev!r}") from None
    packed = _socket.inet_pton(_socket.AF_INET, host_part)
    payload = struct.pack("BBBBi", _socket.AF_INET, int(prefix or 32), 0, 0, ifindex)
    for kind in (IFA_LOCAL, IFA_ADDRESS):
        payload += struct.pack("HH", 8, kind) + packed
    flags = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_CREATE | NLM_F_REPLACE if add else 0)
    _request(RTM_NEWADDR if add else RTM_DELADDR, flags, payload)


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
