"""Gratuitous ARP and unsolicited neighbour advertisements, from raw sockets.

After a VM starts or arrives by migration, the routers on the uplink must
learn that its addresses are now behind this node. The original ran arpsend
and ndsend (their package is gone from Debian) and flipped the global
ip_nonlocal_bind sysctl to do it; a packet socket needs neither.
"""

from __future__ import annotations

import socket
import struct
from ipaddress import IPv4Address, IPv6Address

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
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
        sock.bind((dev, 0))
        sock.send(frame)


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
    checksum = _checksum(pseudo + icmp)
    icmp = icmp[:2] + struct.pack("!H", checksum) + icmp[4:]
    header = struct.pack("!IHBB", 0x60000000, len(icmp), 58, 255) + source.packed + destination.packed
    ethernet = b"\x33\x33\x00\x00\x00\x01" + mac + struct.pack("!H", ETH_P_IPV6)
    return ethernet + header + icmp


def _checksum(data: bytes) -> int:
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
