"""Gratuitous ARP and unsolicited neighbour advertisements, from raw sockets.

After a VM starts or arrives by migration, the routers on the uplink must
learn that its addresses are now behind this node. The original ran arpsend
and ndsend (their package is gone from Debian) and flipped the global
ip_nonlocal_bind sysctl to do it; a packet socket needs neither.
"""

from __future__ import annotations

import os
import struct
from ipaddress import IPv4Address, IPv6Address

from snf_network import log

ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD


def _mac_bytes(dev: str) -> bytes:
    with open(f"/sys/class/net/{dev}/address", encoding="ascii") as handle:
        return bytes.fromhex(handle.read().strip().replace(":", ""))


def _link_local(dev: str) -> IPv6Address | None:
    with open("/proc/net/if_inet6", encoding="ascii") as handle:
        for line in handle:
            fields = line.split()
            if fields[5] == dev and fields[3] == "20":  # scope 0x20: link
                return IPv6Address(bytes.fromhex(fields[0]))
    return None


def _send(dev: str, frame: bytes) -> None:
    # The C module: ``socket``'s Python layer (and its enum imports) is not needed here.
    import _socket

    sock = _socket.socket(_socket.AF_PACKET, _socket.SOCK_RAW)
    try:
        sock.bind((dev, 0))
        sock.send(frame)
    finally:
        sock.close()


def in_background(announcements: list[tuple[str, str, str]]) -> None:
    """Send (protocol, address, dev) announcements from a detached child process.

    Closing a packet socket waits for an RCU grace period (packet_release()
    calls synchronize_net()), 10 to 40 ms on a busy virtual machine: a child
    pays it, so that Ganeti does not wait for it. The child lets go of our
    stdout and stderr, whose end Ganeti waits for. Best effort: failures are
    logged, never reported as the NIC's failure.
    """
    if os.fork() != 0:
        return
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        for protocol, address, dev in announcements:
            try:
                (garp if protocol == "arp" else unsolicited_na)(address, dev)
            except OSError as exc:
                log.warning(f"could not announce {address} on {dev}: {exc}")
    finally:
        os._exit(0)


def garp_frame(mac: bytes, address: IPv4Address) -> bytes:
    """An ARP request for our own address, to everyone (RFC 5227 announcement)."""
    ip = address.packed
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + ip + b"\x00" * 6 + ip
    return b"\xff" * 6 + mac + struct.pack("!H", ETH_P_ARP) + arp


def unsolicited_na_frame(mac: bytes, source: IPv6Address, target: IPv6Address) -> bytes:
    """A neighbour advertisement with the override flag, to all nodes (RFC 4861 7.2.6)."""
    destination = IPv6Address("ff02::1")
    icmp = struct.pack("!BBHI", 136, 0, 0, 0x20000000) + target.packed + b"\x02\x01" + mac
    pseudo = source.packed + destination.packed + struct.pack("!I3xB", len(icmp), 58)
    checksum = internet_checksum(pseudo + icmp)
    icmp = icmp[:2] + struct.pack("!H", checksum) + icmp[4:]
    header = struct.pack("!IHBB", 0x60000000, len(icmp), 58, 255) + source.packed + destination.packed
    ethernet = b"\x33\x33\x00\x00\x00\x01" + mac + struct.pack("!H", ETH_P_IPV6)
    return ethernet + header + icmp


def internet_checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``: IPv4 headers, UDP, ICMPv6 (snf-dhcpd uses it too)."""
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def garp(address: str, dev: str) -> None:
    _send(dev, garp_frame(_mac_bytes(dev), IPv4Address(address)))


def unsolicited_na(address: str, dev: str) -> None:
    source = _link_local(dev)
    if source is None:
        raise OSError(f"{dev} has no IPv6 link-local address to send from")
    _send(dev, unsolicited_na_frame(_mac_bytes(dev), source, IPv6Address(address)))
