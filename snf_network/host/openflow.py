"""A port's anti-spoofing flows sent to the switch in OpenFlow 1.3, over its management socket.

host/ovs.py writes a port's flows as ovs-ofctl add-flows lines: what
``snf-network plan`` shows, what ``verify`` compares with dump-flows, and
what ovs-ofctl is given when this path cannot run. ovs-ofctl is a process
of its own and asks the switch for its port names first (15 ms here with 100
ports, against 3 ms for this); here the same lines are translated into flow
mods, the few words we write and nothing more, and sent in one write with a
barrier. A word outside that vocabulary is a ValueError before anything is
sent (tests/unit/test_openflow.py translates every line we can write).

Port names become numbers as ovs-ofctl does it: from the switch's port
descriptions, on the same connection. A switch that does not speak
OpenFlow 1.3 (its Bridge ``protocols`` set without it) gets ovs-ofctl.
"""

from __future__ import annotations

import _socket
import os
import struct
import time

from snf_network.errors import SnfNetworkError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from snf_network.host import Host

VERSION = 4  # OpenFlow 1.3
HELLO, ERROR, ECHO_REQUEST, ECHO_REPLY, FLOW_MOD = 0, 1, 2, 3, 14
MULTIPART_REQUEST, MULTIPART_REPLY, BARRIER_REQUEST, BARRIER_REPLY = 18, 19, 20, 21
PORT_DESC = 13
ADD, DELETE = 0, 3
ALL_TABLES, ANY_PORT, ANY_GROUP, NO_BUFFER, NORMAL_PORT = 0xFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFA
MORE = 1  # a multipart reply's flag: more parts follow

# The shorthands we write, as (eth_type, ip_proto) prerequisites.
PROTOCOLS = {"ip": (0x0800, None), "ipv6": (0x86DD, None), "arp": (0x0806, None), "rarp": (0x8035, None),
             "udp": (0x0800, 17), "udp6": (0x86DD, 17), "icmp6": (0x86DD, 58)}
# Our words -> (OXM field number, value length); tp_* and icmp_type depend on the protocol.
FIELDS = {"in_port": (0, 4), "dl_src": (4, 6), "eth_type": (5, 2), "ip_proto": (10, 1), "nw_src": (11, 4),
          "udp_src": (15, 2), "udp_dst": (16, 2), "arp_spa": (22, 4), "arp_sha": (24, 6), "ipv6_src": (26, 16),
          "icmpv6_type": (29, 1), "nd_target": (31, 16)}


def _value(name: str, text: str) -> bytes:
    import ipaddress

    if name in ("dl_src", "arp_sha"):
        octets = text.split(":")
        if len(octets) != 6:
            raise ValueError(f"{name}={text}: not a MAC address")
        return bytes(int(octet, 16) for octet in octets)
    if name in ("nw_src", "arp_spa"):
        return ipaddress.IPv4Address(text).packed
    if name in ("ipv6_src", "nd_target"):
        return ipaddress.IPv6Address(text).packed
    size = FIELDS[name][1]
    return int(text, 0).to_bytes(size, "big")


def _oxm(name: str, value: bytes) -> bytes:
    field, size = FIELDS[name]
    if len(value) != size:
        raise ValueError(f"{name}: {len(value)} bytes, not {size}")
    return struct.pack("!HBB", 0x8000, field << 1, size) + value


def _match(fields: list[tuple[str, bytes]]) -> bytes:
    body = b"".join(_oxm(name, value) for name, value in fields)
    match = struct.pack("!HH", 1, 4 + len(body)) + body  # OFPMT_OXM
    return match + b"\0" * (-len(match) % 8)


def _flow_mod(xid: int, command: int, cookie: int, cookie_mask: int, priority: int,
              fields: list[tuple[str, bytes]], normal: bool) -> bytes:
    instructions = b""
    if normal:
        output = struct.pack("!HHIH6x", 0, 16, NORMAL_PORT, 0xFFFF)  # OFPAT_OUTPUT to NORMAL
        instructions = struct.pack("!HH4x", 4, 8 + len(output)) + output  # OFPIT_APPLY_ACTIONS
    table = ALL_TABLES if command == DELETE else 0
    body = struct.pack("!QQBBHHHIIIH2x", cookie, cookie_mask, table, command, 0, 0, priority, NO_BUFFER,
                       ANY_PORT, ANY_GROUP, 0) + _match(fields) + instructions
    return struct.pack("!BBHI", VERSION, FLOW_MOD, 8 + len(body), xid) + body


def flow_mods(script: str, ports: dict[str, int], first_xid: int = 1) -> list[bytes]:
    """The flow mods of an ovs-ofctl add-flows input that host/ovs.py wrote; ``ports``: name -> number."""
    messages = []
    for index, line in enumerate(script.splitlines()):
        verb, _, flow = line.partition(" ")
        if verb not in ("add", "delete"):
            raise ValueError(f"{line!r}: not add or delete")
        fields: list[tuple[str, bytes]] = []
        cookie, mask, priority, normal, protocol = 0, 0, -1, None, None
        for word in flow.split(","):
            name, equals, text = word.partition("=")
            if not equals:
                if name not in PROTOCOLS or protocol is not None:
                    raise ValueError(f"{line!r}: {name!r} is not a protocol we write")
                protocol = PROTOCOLS[name]
                fields.append(("eth_type", protocol[0].to_bytes(2, "big")))
                if protocol[1] is not None:
                    fields.append(("ip_proto", bytes([protocol[1]])))
            elif name == "cookie":
                value, slash, masked = text.partition("/")
                cookie = int(value, 16)
                mask = 0 if not slash else (1 << 64) - 1 if masked == "-1" else int(masked, 16)
            elif name == "priority":
                priority = int(text)
            elif name == "actions":
                if text not in ("NORMAL", "drop"):
                    raise ValueError(f"{line!r}: actions={text} is not one we write")
                normal = text == "NORMAL"
            elif name == "in_port":
                port = text.strip('"')
                if port.isdigit() and port == text:
                    port_number = int(port)
                elif port in ports:
                    port_number = ports[port]
                else:
                    raise SnfNetworkError(f"{port}: not a port of the switch (yet)")
                fields.insert(0, ("in_port", port_number.to_bytes(4, "big")))
            elif name in ("tp_src", "tp_dst") and protocol is not None and protocol[1] == 17:
                fields.append((f"udp_{name[3:]}", _value("udp_src", text)))
            elif name == "icmp_type" and protocol == PROTOCOLS["icmp6"]:
                fields.append(("icmpv6_type", _value("icmpv6_type", text)))
            elif name == "nw_src" and protocol is not None and protocol[0] == 0x0800:
                fields.append(("nw_src", _value(name, text)))
            elif name in ("dl_src", "ipv6_src", "nd_target", "arp_sha", "arp_spa"):
                fields.append((name, _value(name, text)))
            else:
                raise ValueError(f"{line!r}: {word!r} is not a match we write")
        if verb == "add":
            if priority < 0 or normal is None or mask:
                raise ValueError(f"{line!r}: an add needs a priority, actions and a cookie without mask")
            messages.append(_flow_mod(first_xid + index, ADD, cookie, 0, priority, fields, normal))
        else:
            if any(name != "in_port" for name, _ in fields) or normal is not None or priority >= 0 or not mask:
                raise ValueError(f"{line!r}: a delete is by cookie, and port, alone")
            messages.append(_flow_mod(first_xid + index, DELETE, cookie, mask, 0, fields, False))
    return messages


def speaks_13(version: int, hello: bytes) -> bool:
    """Whether a switch's hello offers OpenFlow 1.3: its version bitmap if it sent one, else its version."""
    offset = 0
    while offset + 4 <= len(hello):
        kind, length = struct.unpack_from("!HH", hello, offset)
        if length < 4:
            break
        if kind == 1 and length >= 8:  # OFPHET_VERSIONBITMAP: bit N for wire version N
            return bool(struct.unpack_from("!I", hello, offset + 4)[0] & 1 << VERSION)
        offset += (length + 7) // 8 * 8
    return version >= VERSION


def mgmt_socket(rundir: str, switch: str) -> str:
    """Where ovs-ofctl finds ``switch`` by name: its .mgmt socket in OVS_RUNDIR (ours, else OVS's)."""
    return f"{rundir or os.environ.get('OVS_RUNDIR') or '/var/run/openvswitch'}/{switch}.mgmt"


class _Connection:
    def __init__(self, sock: _socket.socket, timeout: float, path: str = "") -> None:
        self.sock, self.timeout, self.path = sock, timeout, path
        self.deadline = time.monotonic() + timeout
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def receive(self) -> tuple[int, int, int, bytes]:
        """(version, type, xid, body) of the next message; echo requests are answered on the way."""
        while True:
            while len(self.buffer) < 8 or len(self.buffer) < struct.unpack_from("!H", self.buffer, 2)[0]:
                left = self.deadline - time.monotonic()
                if left <= 0:
                    raise SnfNetworkError(f"the switch at {self.path} did not answer within {self.timeout:g} s")
                self.sock.settimeout(left)
                try:
                    data = self.sock.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    raise SnfNetworkError(f"the switch at {self.path} closed its OpenFlow connection")
                self.buffer += data
            version, kind, length, xid = struct.unpack_from("!BBHI", self.buffer)
            if length < 8:
                raise SnfNetworkError("the switch sent a malformed OpenFlow message")
            body, self.buffer = self.buffer[8:length], self.buffer[length:]
            if kind == ECHO_REQUEST:
                self.send(struct.pack("!BBHI", version, ECHO_REPLY, 8 + len(body), xid) + body)
                continue
            return version, kind, xid, body


class Switch:
    """An OpenFlow 1.3 connection to one switch.

    Opened before the port's OVSDB transaction (host/ovs.py), so that the
    hello is answered meanwhile. ``send`` puts flows in and ``finish`` waits
    for the switch's barrier reply: with the OpenFlow numbers host/ovsdb.py
    asks for, a new port's flows go in before the port exists, while
    ovs-vswitchd is idle (it is busy for about 10 ms once it has added a
    port; 90 ms with 1000 ports).
    """

    def __init__(self, sock: _socket.socket, path: str, timeout: float) -> None:
        self.path = path
        self.connection = _Connection(sock, timeout, path)
        self.connection.send(struct.pack("!BBHI", VERSION, HELLO, 8, 0))
        self.speaks: bool | None = None  # OpenFlow 1.3, once its hello is read
        self.xid = 1
        self.pending: tuple[int, int, list[str]] | None = None  # (first xid, barrier xid, lines) not yet answered

    @classmethod
    def connect(cls, host: Host, path: str, timeout: float) -> Switch | None:
        """The switch at ``path``, its hello on the way; None when nothing answers there (ovs-ofctl then)."""
        sock = host.unix_stream(path)
        if sock is None:
            return None
        try:
            return cls(sock, path, timeout)
        except OSError:
            sock.close()
            return None

    def close(self) -> None:
        self.connection.sock.close()

    def push(self, script: str) -> bool:
        """Send ``script`` (ovs-ofctl add-flows lines) and wait for it; False: nothing was sent, ovs-ofctl should."""
        if not self.send(script):
            return False
        self.finish()
        return True

    def send(self, script: str, ports: dict[str, int] | None = None) -> bool:
        """Send ``script`` and a barrier, ``in_port`` names as ``ports`` numbers them (else as the switch does).

        False: nothing was sent (no OpenFlow 1.3 there, or a word of ours
        this does not know: a unit test sees to that), and ovs-ofctl should.
        """
        try:
            if self.speaks is None:
                version, kind, _, body = self.connection.receive()
                self.speaks = kind == HELLO and speaks_13(version, body)
            if not self.speaks:
                return False
            if ports is None:
                ports = self._ports() if "in_port=" in script else {}
            try:
                messages = flow_mods(script, ports, first_xid=self.xid + 1)
            except ValueError:
                return False
            first, barrier = self.xid + 1, self.xid + 1 + len(messages)
            self.xid = barrier
            self.connection.send(b"".join(messages) + struct.pack("!BBHI", VERSION, BARRIER_REQUEST, 8, barrier))
            self.pending = (first, barrier, script.splitlines())
            return True
        except OSError as error:
            raise SnfNetworkError(f"OpenFlow at {self.path}: {error.strerror or error}") from None

    def finish(self) -> None:
        """Until the switch has done what ``send`` sent; its first refusal raises (naming the flow)."""
        if self.pending is None:
            return
        first, barrier, lines = self.pending
        self.pending = None
        try:
            while True:
                _, kind, xid, body = self.connection.receive()
                if kind == ERROR and first <= xid <= barrier:
                    line = lines[xid - first] if xid < barrier else "?"
                    raise SnfNetworkError(f"the switch refused the flow {line!r} ({_error(body)})")
                if kind == BARRIER_REPLY and xid == barrier:
                    return
        except OSError as error:
            raise SnfNetworkError(f"OpenFlow at {self.path}: {error.strerror or error}") from None

    def _ports(self) -> dict[str, int]:
        """The switch's ports, name -> OpenFlow number (what ovs-ofctl asks for to read in_port=NAME)."""
        self.xid += 1
        request = self.xid
        self.connection.send(struct.pack("!BBHIHH4x", VERSION, MULTIPART_REQUEST, 16, request, PORT_DESC, 0))
        ports: dict[str, int] = {}
        while True:
            _, kind, xid, body = self.connection.receive()
            if kind == ERROR and xid == request:
                raise SnfNetworkError(f"the switch refused our port description request ({_error(body)})")
            if kind != MULTIPART_REPLY or xid != request:
                continue
            parts, flags = struct.unpack_from("!HH", body)
            for offset in range(8, len(body) - 63, 64):  # struct ofp_port: 64 bytes each
                number = struct.unpack_from("!I", body, offset)[0]
                ports[body[offset + 16:offset + 32].split(b"\0", 1)[0].decode(errors="replace")] = number
            if parts != PORT_DESC or not flags & MORE:
                return ports


def _error(body: bytes) -> str:
    if len(body) < 4:
        return "an error"
    kind, code = struct.unpack_from("!HH", body)
    return f"error type {kind} code {code}"
