"""What snf-dhcpd answers, as pure functions of bytes: a request frame in, reply frames out.

``answer`` never raises for anything a tenant can send: a frame it cannot
read, or will not answer, gives no replies and the reason (logged per NIC,
rate-limited, by the service).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from snf_network.config import Config
from snf_network.dhcpd import codec
from snf_network.dhcpd.binding import Binding
from snf_network.dhcpd.codec import Malformed

ZERO4 = b"\0" * 4
ZERO6 = b"\0" * 16
# RFC 4861 6.2.1: AdvDefaultLifetime at most 9000 s.
MAX_ROUTER_LIFETIME = 9000
# The largest request frame read. Clients' DHCP, RS, NS and DHCPv6 requests
# are a few hundred bytes; a tap (unlike a veth) takes frames far past its
# MTU from the guest, and a 64 KB DHCP message of pads or repeated options
# costs 10-40 ms of parsing: a thousand a second from one VM would stop the
# daemon answering every other NIC.
MAX_REQUEST = 2048


@dataclass(frozen=True)
class Settings:
    """The configuration keys the responder reads (config.py; docs/dhcpd.md)."""

    nameservers: tuple[str, ...] = ()
    nameservers6: tuple[str, ...] = ()
    domain: str = ""
    domains6: tuple[str, ...] = ()
    lease_time: int = 604800
    renewal_time: int = 600
    server_ip: str = ""
    ipv4: bool = True
    ipv6: bool = True
    ra_period: int = 300

    @classmethod
    def from_config(cls, cfg: Config) -> Settings:
        if cfg.DHCP_RENEWAL_TIME >= cfg.DHCP_LEASE_TIME:
            raise ValueError("DHCP_RENEWAL_TIME must be shorter than DHCP_LEASE_TIME")
        return cls(cfg.DHCP_NAMESERVERS, cfg.DHCP_NAMESERVERS6, cfg.DHCP_DOMAIN, cfg.DHCP_DOMAINS6,
                   cfg.DHCP_LEASE_TIME, cfg.DHCP_RENEWAL_TIME, cfg.DHCP_SERVER_IP, cfg.DHCPD_IPV4,
                   cfg.DHCPD_IPV6, cfg.RA_PERIOD)

    def domain_of(self, binding: Binding) -> str:
        """nfdhcpd's rule: the configured domain, else HOSTNAME after its first dot (all of it without one)."""
        return self.domain or binding.hostname.partition(".")[2] or binding.hostname

    def search_list(self, binding: Binding) -> tuple[str, ...]:
        return self.domains6 or (self.domain_of(binding),)


@dataclass(frozen=True)
class Reply:
    frames: tuple[bytes, ...] = ()
    ignored: str = ""  # why nothing was sent, for the log; '' when answered


# Where the xid and the UDP checksum are in a DHCP reply we built (20-byte IPv4 header).
XID_AT = 14 + 20 + 8 + 4
UDP_SUM_AT = 14 + 20 + 6


def answer(data: bytes, binding: Binding, settings: Settings, server_mac: bytes,
           cache: dict[tuple[object, ...], bytes] | None = None) -> Reply:
    """The replies to one frame that came in on ``binding``'s interface.

    ``cache`` (for one binding, settings and server MAC: the caller drops it
    when any changes) keeps DHCP replies built with a zero xid: a client's
    next request of the same kind differs only there, and costs a patch of
    the xid and of the UDP checksum instead of a whole build.
    """
    if len(data) > MAX_REQUEST:
        return Reply(ignored=f"larger than any request ({len(data)} bytes)")
    try:
        frame = codec.ethernet(data)
        if frame.ethertype == codec.ETH_IP:
            return _dhcp4(frame, binding, settings, server_mac, cache)
        if frame.ethertype == codec.ETH_IPV6:
            return _ipv6(frame, binding, settings, server_mac)
        return Reply(ignored="neither IPv4 nor IPv6")
    except Malformed as exc:
        return Reply(ignored=f"malformed: {exc}")
    except (ValueError, IndexError, struct.error) as exc:  # a parser's oversight must not stop the daemon
        return Reply(ignored=f"malformed: {exc}")


def _spoofed(frame_src: bytes, binding: Binding) -> bool:
    return not binding.macspoof and frame_src != binding.mac


# -- DHCPv4 ---------------------------------------------------------------

def server_address(binding: Binding, settings: Settings) -> bytes:
    """The server identifier: DHCP_SERVER_IP, else the gateway, else the subnet's first address."""
    if settings.server_ip:
        return IPv4Address(settings.server_ip).packed
    if binding.gateway is not None:
        return binding.gateway.packed
    assert binding.subnet is not None
    return (binding.subnet.network_address + 1).packed


def _dhcp4(frame: codec.Frame, binding: Binding, settings: Settings, server_mac: bytes,
           cache: dict[tuple[object, ...], bytes] | None) -> Reply:
    _, _, _, dport, payload = codec.udp4(frame)
    if dport != 67:
        return Reply(ignored="not to the DHCP server port")
    request = codec.dhcp(payload)
    if request.op != 1:
        return Reply(ignored="not a BOOTREQUEST")
    if _spoofed(frame.src, binding) or (not binding.macspoof and request.chaddr != binding.mac):
        return Reply(ignored=f"hardware address {request.chaddr.hex(':')} is not the binding's")
    if not settings.ipv4:
        return Reply(ignored="DHCPD_IPV4 is off")
    kind = request.message_type
    if kind in (codec.DECLINE, codec.RELEASE):
        return Reply(ignored=f"DHCP {'DECLINE' if kind == codec.DECLINE else 'RELEASE'}: nothing to do")
    if binding.ip is None or binding.subnet is None:
        return Reply(ignored="the binding has no IP or SUBNET")
    if cache is None:
        return _build4(frame, request, binding, settings, server_mac)
    key = (kind, request.flags, request.ciaddr, request.options.get(50), request.options.get(54), frame.src,
           request.chaddr)
    template = cache.get(key)
    if template is None:
        reply = _build4(frame, request, binding, settings, server_mac, xid=b"\0" * 4)
        if reply.ignored:
            return reply
        if len(cache) > 64:  # a client varying its requests must not grow this without end
            cache.clear()
        template = cache[key] = reply.frames[0]
    checksum = codec.patch_checksum(int.from_bytes(template[UDP_SUM_AT : UDP_SUM_AT + 2], "big"), request.xid)
    return Reply((template[:UDP_SUM_AT] + checksum.to_bytes(2, "big") + template[UDP_SUM_AT + 2 : XID_AT]
                  + request.xid + template[XID_AT + 4 :],))


def _build4(frame: codec.Frame, request: codec.Dhcp, binding: Binding, settings: Settings, server_mac: bytes,
            xid: bytes | None = None) -> Reply:
    assert binding.ip is not None and binding.subnet is not None
    kind = request.message_type
    xid = request.xid if xid is None else xid
    server = server_address(binding, settings)
    ip = binding.ip.packed
    mac = request.chaddr
    if kind == codec.INFORM:
        options = [(53, bytes([codec.ACK])), (54, server), *_names(binding, settings)]
        target = request.ciaddr if request.ciaddr != ZERO4 else ip
        body = codec.dhcp_payload(2, xid, request.flags, request.ciaddr, ZERO4, ZERO4, mac, options)
        return Reply((codec.udp4_frame(server_mac, frame.src, server, target, 67, 68, body),))
    if kind == codec.DISCOVER:
        reply_type = codec.OFFER
    elif kind == codec.REQUEST:
        wanted = request.options.get(50) or (request.ciaddr if request.ciaddr != ZERO4 else ip)
        chosen = request.options.get(54)
        if chosen is not None and chosen != server:
            return Reply(ignored="REQUEST for another server")
        if wanted != ip:
            options = [(53, bytes([codec.NAK])), (54, server)]
            body = codec.dhcp_payload(2, xid, 0x8000, ZERO4, ZERO4, ZERO4, mac, options)
            return Reply((codec.udp4_frame(server_mac, codec.BROADCAST_MAC, server, b"\xff" * 4, 67, 68, body),))
        reply_type = codec.ACK
    else:
        return Reply(ignored=f"DHCP message type {kind} is not answered")
    subnet = binding.subnet
    options = [
        (53, bytes([reply_type])),
        (54, server),
        (51, struct.pack("!I", settings.lease_time)),
        (58, struct.pack("!I", settings.renewal_time)),
        (59, struct.pack("!I", settings.lease_time * 7 // 8)),
        (1, subnet.netmask.packed),
        (28, subnet.broadcast_address.packed),
    ]
    if binding.gateway is not None and not binding.private:
        options.append((3, binding.gateway.packed))
    if binding.mtu:
        options.append((26, struct.pack("!H", binding.mtu)))
    options += _names(binding, settings)
    body = codec.dhcp_payload(2, xid, request.flags, request.ciaddr, ip, ZERO4, mac, options)
    return Reply((codec.udp4_frame(server_mac, frame.src, server, ip, 67, 68, body),))


def _names(binding: Binding, settings: Settings) -> list[tuple[int, bytes]]:
    options = []
    if settings.nameservers:
        options.append((6, b"".join(bytes(int(p) for p in ns.split(".")) for ns in settings.nameservers)))
    options.append((12, binding.hostname.encode()[:255]))
    options.append((15, settings.domain_of(binding).encode()[:255]))
    return options


# -- IPv6 -----------------------------------------------------------------

def _ipv6(frame: codec.Frame, binding: Binding, settings: Settings, server_mac: bytes) -> Reply:
    packet = codec.ipv6(frame)
    if binding.bridged:
        return Reply(ignored="IPv6 on a bridged port: the bridge's own router answers")
    if binding.subnet6 is None:
        return Reply(ignored="the binding has no SUBNET6")
    if not settings.ipv6:
        return Reply(ignored="DHCPD_IPV6 is off")
    if _spoofed(frame.src, binding):
        return Reply(ignored=f"hardware address {frame.src.hex(':')} is not the binding's")
    if packet.next_header == codec.ICMPV6:
        if len(packet.payload) < 8:
            raise Malformed("truncated ICMPv6")
        kind, code = packet.payload[0], packet.payload[1]
        if packet.hop_limit != 255 or code != 0:
            return Reply(ignored="neighbour discovery from off-link (hop limit or code)")
        if kind == codec.RS:
            codec.icmpv6_options(packet.payload[8:])
            unicast = packet.src != ZERO6
            return Reply((router_advertisement(binding, settings, server_mac,
                                               packet.src if unicast else codec.ALL_NODES,
                                               frame.src if unicast else codec.multicast_mac(codec.ALL_NODES)),))
        if kind == codec.NS:
            return _neighbour(packet, frame, binding, server_mac)
        return Reply(ignored=f"ICMPv6 type {kind} is not answered")
    if packet.next_header == codec.UDP:
        return _dhcp6(packet, frame, binding, settings, server_mac)
    return Reply(ignored="neither ICMPv6 nor UDP")


def router_advertisement(binding: Binding, settings: Settings, server_mac: bytes, dst: bytes,
                         dst_mac: bytes) -> bytes:
    """An RA for ``binding``: its prefix, MTU, and the configured DNS servers and search list (RFC 8106)."""
    assert binding.subnet6 is not None
    lifetime = min(MAX_ROUTER_LIFETIME, max(1800, 3 * settings.ra_period))
    flags = 0x40  # O: other configuration (DNS, search list) by DHCPv6: nfdhcpd's mode slaac+dhcpv6
    body = struct.pack("!BBHBBHII", codec.RA, 0, 0, 64, flags, lifetime, 0, 0)
    body += struct.pack("!BB6s", 1, 1, server_mac)
    if binding.mtu:
        body += struct.pack("!BBHI", 5, 1, 0, binding.mtu)
    # nfdhcpd's prefix: GATEWAY6 with the R (router address) flag, else the network.
    if binding.gateway6 is not None:
        prefix, prefix_flags = binding.gateway6.packed, 0xE0
    else:
        prefix, prefix_flags = binding.subnet6.network_address.packed, 0xC0
    body += struct.pack("!BBBBIII16s", 3, 4, binding.subnet6.prefixlen, prefix_flags, 2592000, 604800, 0, prefix)
    dns_lifetime = 3 * settings.ra_period
    if settings.nameservers6:
        servers = b"".join(IPv6Address(ns).packed for ns in settings.nameservers6)
        body += struct.pack("!BBHI", 25, 1 + 2 * len(settings.nameservers6), 0, dns_lifetime) + servers
    names = codec.dns_names(settings.search_list(binding))
    if names:
        names += b"\0" * (-len(names) % 8)
        body += struct.pack("!BBHI", 31, 1 + len(names) // 8, 0, dns_lifetime) + names
    return codec.ipv6_frame(server_mac, dst_mac, codec.link_local(server_mac), dst, codec.ICMPV6, 255, body, 2)


def _neighbour(packet: codec.Ip6Packet, frame: codec.Frame, binding: Binding, server_mac: bytes) -> Reply:
    assert binding.subnet6 is not None
    if len(packet.payload) < 24:
        raise Malformed("truncated neighbour solicitation")
    target = packet.payload[8:24]
    options = codec.icmpv6_options(packet.payload[24:])
    if packet.src == ZERO6:
        # Duplicate address detection: answering would take the VM's own address away from it.
        return Reply(ignored="duplicate address detection is not answered")
    if 1 not in options:
        return Reply(ignored="neighbour solicitation without a source link-layer address")
    if not binding.macspoof and options[1][:6] != binding.mac:
        return Reply(ignored=f"source link-layer address {options[1][:6].hex(':')} is not the binding's")
    address = IPv6Address(target)
    own = codec.link_local(server_mac)
    # nfdhcpd's rule: the node answers for its link-local and every address
    # of the VM's /64 (the rest of it is behind the router), except the
    # VM's own.
    if target != own and address not in binding.subnet6:
        return Reply(ignored=f"neighbour solicitation for {address}, not the router's")
    if target[8:] == codec.link_local(binding.mac)[8:]:
        return Reply(ignored=f"neighbour solicitation for the VM's own {address}")
    body = struct.pack("!BBHI16s", codec.NA, 0, 0, 0xC0000000, target)  # router, solicited
    body += struct.pack("!BB6s", 2, 1, server_mac)
    return Reply((codec.ipv6_frame(server_mac, frame.src, own, packet.src, codec.ICMPV6, 255, body, 2),))


def _dhcp6(packet: codec.Ip6Packet, frame: codec.Frame, binding: Binding, settings: Settings,
           server_mac: bytes) -> Reply:
    sport, dport, payload = codec.udp6(packet)
    if dport != 547:
        return Reply(ignored="not to the DHCPv6 server port")
    if len(payload) < 4:
        raise Malformed("truncated DHCPv6 message")
    kind, transaction = payload[0], payload[1:4]
    options = codec.dhcpv6_options(payload[4:])
    if kind != codec.INFORMATION_REQUEST:
        return Reply(ignored=f"DHCPv6 message type {kind}: only information requests are answered")
    if packet.src[:2] != b"\xfe\x80":
        return Reply(ignored="DHCPv6 not from a link-local address")
    duid = struct.pack("!HH6s", 3, 1, server_mac)  # DUID-LL
    reply = [(codec.OPT_SERVERID, duid)]
    if codec.OPT_CLIENTID in options:
        reply.insert(0, (codec.OPT_CLIENTID, options[codec.OPT_CLIENTID]))
    if settings.nameservers6:
        reply.append((codec.OPT_DNS_SERVERS, b"".join(IPv6Address(ns).packed for ns in settings.nameservers6)))
    names = codec.dns_names(settings.search_list(binding))
    if names:
        reply.append((codec.OPT_DOMAIN_LIST, names))
    body = bytes([codec.REPLY]) + transaction + b"".join(struct.pack("!HH", code, len(value)) + value
                                                           for code, value in reply)
    return Reply((codec.udp6_frame(server_mac, frame.src, codec.link_local(server_mac), packet.src, 547, sport,
                                   body),))
