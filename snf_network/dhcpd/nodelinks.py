"""Which interfaces are the node's own (uplinks, bridges, loopback), never a NIC's tap.

A binding file is named after the interface the daemon opens a packet socket
on, sends router advertisements to ff02::1 on, and answers DHCP and
neighbour solicitations on. A stray or hand-written file named ``eth0`` or
``br0`` would make the daemon a router on the node's uplink or on a whole
bridge. NIC interfaces (taps, Xen vifs, and the tests' veths) are never
bridges, bonds, VLANs, Open vSwitch's own devices, loopback or real devices,
and never hold an address: the node's addresses are on its own interfaces.
"""

from __future__ import annotations

import os
import socket
import struct
import time

from snf_network.host import netlink

IFF_LOOPBACK = 0x8
RTM_GETADDR, NLMSG_DONE, NLMSG_ERROR = 22, 3, 2
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
RT_SCOPE_UNIVERSE = 0
NLMSG = struct.Struct("IHHII")
IFADDRMSG = struct.Struct("BBBBI")


def addressed() -> set[int]:
    """The indexes of interfaces holding an IPv4 address or a global IPv6 one (one netlink dump)."""
    found: set[int] = set()
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0) as sock:
        sock.settimeout(2.0)
        sock.send(NLMSG.pack(NLMSG.size + 4, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
                  + struct.pack("Bxxx", socket.AF_UNSPEC))
        while True:
            data = sock.recv(1 << 16)
            at = 0
            while at + NLMSG.size <= len(data):
                length, kind, _, _, _ = NLMSG.unpack_from(data, at)
                if length < NLMSG.size or kind in (NLMSG_DONE, NLMSG_ERROR):
                    return found
                if kind == RTM_GETADDR - 2 and length >= NLMSG.size + IFADDRMSG.size:  # RTM_NEWADDR
                    family, _, _, scope, index = IFADDRMSG.unpack_from(data, at + NLMSG.size)
                    if family == socket.AF_INET or (family == socket.AF_INET6 and scope == RT_SCOPE_UNIVERSE):
                        found.add(index)
                at += (length + 3) & ~3
            if not data:
                return found


# The kinds a NIC's interface is: a tap ("tun"), a veth (containers, the tests' VMs), or none
# (a Xen vif; real devices have none either, and are told by their sysfs device).
NIC_KINDS = ("tun", "veth", "")


class NodeInterfaces:
    """``why(name, index)``: '' for a possible NIC interface, else why it is the node's own."""

    def __init__(self, root: str = "/sys/class/net") -> None:
        self.root = root
        self._addressed: set[int] = set()
        self._when = -10.0

    def _has_address(self, index: int) -> bool:
        # One dump serves a burst (a restart connects a thousand bindings at once).
        now = time.monotonic()
        if now - self._when > 1.0:
            try:
                self._addressed = addressed()
            except OSError:
                self._addressed = set()
            self._when = now
        return index in self._addressed

    def why(self, name: str, index: int) -> str:
        base = os.path.join(self.root, name)
        try:
            with open(os.path.join(base, "flags"), encoding="ascii") as handle:
                flags = int(handle.read().strip(), 16)
        except (OSError, ValueError):
            flags = 0
        if flags & IFF_LOOPBACK:
            return "it is the loopback"
        if os.path.exists(os.path.join(base, "bridge")):
            return "it is a bridge"
        if os.path.exists(os.path.join(base, "bonding")):
            return "it is a bond"
        device = os.path.join(base, "device")
        if os.path.exists(device) and not os.path.basename(os.path.realpath(device)).startswith("vif-"):
            return "it is a hardware device"  # Xen's vifs are devices too: vif-DOMID-N on xen-backend
        if index > 0:
            try:
                kind = netlink.link_kind(name)
            except OSError:
                kind = ""
            if kind not in NIC_KINDS:
                return f"its kind is {kind}, never a NIC's"
        if self._has_address(index):
            return "it holds an address of the node"
        return ""
