"""Requests a VM sends, built with scapy (an independent codec): DHCP, RS, NS, DHCPv6."""

from __future__ import annotations

import ipaddress
import logging

logging.getLogger("scapy").setLevel(logging.ERROR)

from scapy.layers.dhcp import BOOTP, DHCP  # noqa: E402
from scapy.layers.dhcp6 import DUID_LL, DHCP6_InfoRequest, DHCP6OptClientId  # noqa: E402
from scapy.layers.inet import IP, UDP  # noqa: E402
from scapy.layers.inet6 import (  # noqa: E402
    ICMPv6ND_NS,
    ICMPv6ND_RS,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
)
from scapy.layers.l2 import Ether  # noqa: E402

GATEWAY6 = "2001:db8:1::1"


def mac_text(mac: bytes) -> str:
    return mac.hex(":")


def link_local(mac: bytes) -> str:
    eui = bytes([mac[0] ^ 2]) + mac[1:3] + b"\xff\xfe" + mac[3:6]
    return str(ipaddress.IPv6Address(bytes.fromhex("fe80000000000000") + eui))


def dhcp(mac: bytes, kind: str, chaddr: bytes | None = None, **options: object) -> bytes:
    opts = [("message-type", kind), *options.items(), "end"]
    frame = (Ether(src=mac_text(mac), dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255")
             / UDP(sport=68, dport=67) / BOOTP(chaddr=(chaddr or mac) + b"\0" * 10, xid=0x1234, flags=0x8000)
             / DHCP(options=opts))
    return bytes(frame)


def rs(mac: bytes, src: str | None = None) -> bytes:
    return bytes(Ether(src=mac_text(mac), dst="33:33:00:00:00:02") / IPv6(src=src or link_local(mac), dst="ff02::2")
                 / ICMPv6ND_RS() / ICMPv6NDOptSrcLLAddr(lladdr=mac_text(mac)))


def ns(mac: bytes, target: str, src: str | None = None, option: bool = True) -> bytes:
    packet = (Ether(src=mac_text(mac), dst="33:33:ff:00:00:01")
              / IPv6(src=link_local(mac) if src is None else src, dst="ff02::1:ff00:1") / ICMPv6ND_NS(tgt=target))
    if option:
        packet = packet / ICMPv6NDOptSrcLLAddr(lladdr=mac_text(mac))
    return bytes(packet)


def info_request(mac: bytes) -> bytes:
    return bytes(Ether(src=mac_text(mac), dst="33:33:00:01:00:02") / IPv6(src=link_local(mac), dst="ff02::1:2")
                 / UDP(sport=546, dport=547) / DHCP6_InfoRequest(trid=0xABCDE)
                 / DHCP6OptClientId(duid=DUID_LL(lladdr=mac_text(mac))))


def requests(mac: bytes) -> dict[str, bytes]:
    return {
        "discover": dhcp(mac, "discover"),
        "request": dhcp(mac, "request", requested_addr="192.0.2.10", server_id="192.0.2.1"),
        "rs": rs(mac),
        "ns": ns(mac, GATEWAY6),
        "info-request": info_request(mac),
    }
