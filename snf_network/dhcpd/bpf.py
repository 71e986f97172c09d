"""Packet sockets that receive only what snf-dhcpd answers, filtered in the kernel (classic BPF).

One socket per served interface, opened once and kept while the interface
exists: binding or closing a packet socket waits for an RCU grace period
(8-16 ms here), which a daemon serving a thousand taps must not pay per
binding change. The socket is created with protocol 0 (it receives
nothing), given its filter, then bound: no unfiltered frame slips in
between. Our own replies are not looped back (PACKET_IGNORE_OUTGOING).
"""

from __future__ import annotations

import ctypes
import socket
import struct

ETH_P_ALL = 0x0003
SO_ATTACH_FILTER = 26
SOL_PACKET = 263
PACKET_IGNORE_OUTGOING = 23
SNAP = 0x40000  # whole frames, jumbo ones too

# Classic BPF opcodes (linux/filter.h).
LD_W_ABS, LD_H_ABS, LD_B_ABS, LDX_B_MSH, LD_H_IND = 0x20, 0x28, 0x30, 0xB1, 0x48
JEQ, JSET, RET = 0x15, 0x45, 0x06
# An ancillary load: A = 1 when the frame came with a VLAN tag (SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT).
VLAN_TAG_PRESENT = (-0x1000 + 48) & 0xFFFFFFFF

# (label, opcode, k, label if true, label if false): assembled by ``assemble``.
SOURCE: list[tuple[str, int, int, str, str]] = [
    # The kernel takes a VLAN tag off before a packet socket sees the frame:
    # a request on a guest's VLAN sub-interface is not one on its NIC.
    ("", LD_W_ABS, VLAN_TAG_PRESENT, "", ""),
    ("", JEQ, 0, "untagged", "drop"),
    ("untagged", LD_H_ABS, 12, "", ""),        # A = ethertype
    ("", JEQ, 0x0800, "ip4", "not4"),
    ("ip4", LD_B_ABS, 23, "", ""),             # A = IPv4 protocol
    ("", JEQ, 17, "udp4", "drop"),
    ("udp4", LD_H_ABS, 20, "", ""),            # A = flags and fragment offset
    ("", JSET, 0x1FFF, "drop", "first"),       # a later fragment has no UDP header
    ("first", LDX_B_MSH, 14, "", ""),          # X = IPv4 header length
    ("", LD_H_IND, 16, "", ""),                # A = UDP destination port (14 + X + 2)
    ("", JEQ, 67, "accept", "drop"),
    ("not4", JEQ, 0x86DD, "ip6", "drop"),      # A is still the ethertype
    ("ip6", LD_B_ABS, 20, "", ""),             # A = next header (no extension headers)
    ("", JEQ, 58, "icmp6", "notic"),
    ("icmp6", LD_B_ABS, 54, "", ""),           # A = ICMPv6 type
    ("", JEQ, 133, "accept", "ns"),            # router solicitation
    ("ns", JEQ, 135, "accept", "drop"),        # neighbour solicitation
    ("notic", JEQ, 17, "udp6", "drop"),
    ("udp6", LD_H_ABS, 56, "", ""),            # A = UDP destination port
    ("", JEQ, 547, "accept", "drop"),          # DHCPv6 server port
    ("accept", RET, SNAP, "", ""),
    ("drop", RET, 0, "", ""),
]


def assemble(source: list[tuple[str, int, int, str, str]]) -> list[tuple[int, int, int, int]]:
    """(code, jt, jf, k) instructions; jumps are forward only, as classic BPF requires."""
    where = {label: index for index, (label, *_) in enumerate(source) if label}
    program = []
    for index, (_, code, k, true, false) in enumerate(source):
        jt = where[true] - index - 1 if true else 0
        jf = where[false] - index - 1 if false else 0
        if not (0 <= jt < 256 and 0 <= jf < 256):
            raise ValueError(f"instruction {index}: jumps must go forward")
        program.append((code, jt, jf, k))
    return program


PROGRAM = assemble(SOURCE)


def attach(sock: socket.socket, program: list[tuple[int, int, int, int]]) -> None:
    code = b"".join(struct.pack("HBBI", *instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(code)
    fprog = struct.pack("HL", len(program), ctypes.addressof(buffer))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def open_socket(interface: str) -> socket.socket:
    """A non-blocking packet socket on ``interface`` that sees only the requests snf-dhcpd answers."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    try:
        attach(sock, PROGRAM)
        sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        sock.bind((interface, ETH_P_ALL))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock
