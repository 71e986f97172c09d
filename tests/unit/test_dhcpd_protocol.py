"""snf-dhcpd's answers, driven with bytes: requests built by scapy, replies dissected by scapy."""

from __future__ import annotations

import random
import struct

import pytest

from snf_network import config
from snf_network.dhcpd import bpf
from snf_network.dhcpd.binding import load
from snf_network.dhcpd.protocol import Settings, answer, router_advertisement
from tests.unit import dhcpd_frames as frames

scapy_l2 = pytest.importorskip("scapy.layers.l2")
from scapy.layers.dhcp import BOOTP, DHCP  # noqa: E402
from scapy.layers.dhcp6 import DHCP6_Reply, DHCP6OptDNSDomains, DHCP6OptDNSServers  # noqa: E402
from scapy.layers.inet import IP, UDP  # noqa: E402
from scapy.layers.inet6 import (  # noqa: E402
    ICMPv6ND_NA,
    ICMPv6ND_RA,
    ICMPv6NDOptDNSSL,
    ICMPv6NDOptMTU,
    ICMPv6NDOptPrefixInfo,
    ICMPv6NDOptRDNSS,
    IPv6,
)

Ether = scapy_l2.Ether
MAC = bytes.fromhex("aa0000123456")
SERVER_MAC = bytes.fromhex("cc47524e4554")
BINDING = ("INDEV=tap1\nIP=192.0.2.10\nMAC=aa:00:00:12:34:56\nHOSTNAME=vm1.example.org\nSUBNET=192.0.2.0/24\n"
           "GATEWAY=192.0.2.1\nSUBNET6=2001:db8:1::/64\nGATEWAY6=2001:db8:1::1\nMTU=1450\n")
SETTINGS = Settings.from_config(config.from_text(
    "DHCP_NAMESERVERS='192.0.2.53 192.0.2.54'\nDHCP_NAMESERVERS6=2001:db8:53::53\nDHCP_DOMAINS6=example.org\n"))


def served(text: str = BINDING, name: str = "tap1"):
    return load(name, text)


def one_reply(data: bytes, binding=None, settings: Settings = SETTINGS):
    reply = answer(data, binding or served(), settings, SERVER_MAC)
    assert reply.ignored == "" and len(reply.frames) == 1, reply
    return Ether(reply.frames[0])


def dhcp_options(packet) -> dict[str, object]:
    return {option[0]: option[1] if len(option) == 2 else option[1:]
            for option in packet[DHCP].options if isinstance(option, tuple)}


def test_discover_gets_an_offer_with_every_option() -> None:
    reply = one_reply(frames.dhcp(MAC, "discover"))
    assert reply.src == "cc:47:52:4e:45:54" and reply.dst == "aa:00:00:12:34:56"
    assert reply[IP].src == "192.0.2.1" and reply[IP].dst == "192.0.2.10"
    assert reply[UDP].sport == 67 and reply[UDP].dport == 68
    # scapy recomputes the checksums: ours must be what it computes.
    rebuilt = Ether(bytes(reply))
    del rebuilt[IP].chksum, rebuilt[UDP].chksum
    rebuilt = Ether(bytes(rebuilt))
    assert (rebuilt[IP].chksum, rebuilt[UDP].chksum) == (reply[IP].chksum, reply[UDP].chksum)
    assert reply[BOOTP].yiaddr == "192.0.2.10" and reply[BOOTP].xid == 0x1234
    options = dhcp_options(reply)
    assert options["message-type"] == 2 and options["server_id"] == "192.0.2.1"
    assert options["subnet_mask"] == "255.255.255.0" and options["broadcast_address"] == "192.0.2.255"
    assert options["router"] == "192.0.2.1" and options["name_server"] == ("192.0.2.53", "192.0.2.54")
    assert options["hostname"] == b"vm1.example.org" and options["domain"] == b"example.org"
    assert options["lease_time"] == 604800 and options["renewal_time"] == 600
    assert options["interface-mtu"] == 1450


def test_request_for_the_bound_address_is_acked_and_for_another_naked() -> None:
    ack = one_reply(frames.dhcp(MAC, "request", requested_addr="192.0.2.10", server_id="192.0.2.1"))
    assert dhcp_options(ack)["message-type"] == 5 and ack[BOOTP].yiaddr == "192.0.2.10"
    nak = one_reply(frames.dhcp(MAC, "request", requested_addr="192.0.2.99"))
    assert dhcp_options(nak)["message-type"] == 6 and nak[IP].dst == "255.255.255.255"
    other = answer(frames.dhcp(MAC, "request", requested_addr="192.0.2.10", server_id="198.51.100.7"),
                   served(), SETTINGS, SERVER_MAC)
    assert other.frames == () and "another server" in other.ignored


def test_a_cached_reply_is_the_reply_built_afresh_for_every_xid() -> None:
    cache: dict = {}
    for xid in (0, 1, 0x1234, 0xFFFF, 0xFFFFFFFF, 0x80000001, 0xDEADBEEF):
        for request in (frames.dhcp(MAC, "discover"), frames.dhcp(MAC, "request", requested_addr="192.0.2.10"),
                        frames.dhcp(MAC, "request", requested_addr="192.0.2.99"), frames.dhcp(MAC, "inform")):
            data = bytearray(request)
            data[46:50] = xid.to_bytes(4, "big")
            fresh = answer(bytes(data), served(), SETTINGS, SERVER_MAC)
            cached = answer(bytes(data), served(), SETTINGS, SERVER_MAC, cache)
            assert cached == fresh and Ether(cached.frames[0])[BOOTP].xid == xid
    assert len(cache) == 4


def test_inform_gets_names_only() -> None:
    reply = one_reply(frames.dhcp(MAC, "inform"))
    options = dhcp_options(reply)
    assert options["message-type"] == 5 and "router" not in options and "lease_time" not in options
    assert options["name_server"] == ("192.0.2.53", "192.0.2.54") and reply[BOOTP].yiaddr == "0.0.0.0"


@pytest.mark.parametrize("kind", ["decline", "release"])
def test_decline_and_release_are_ignored_safely(kind: str) -> None:
    reply = answer(frames.dhcp(MAC, kind), served(), SETTINGS, SERVER_MAC)
    assert reply.frames == () and "nothing to do" in reply.ignored


def test_private_networks_get_no_router_and_the_server_ip_rule() -> None:
    reply = one_reply(frames.dhcp(MAC, "discover"), served(BINDING + "PRIVATE=1\n"))
    assert "router" not in dhcp_options(reply)
    no_gateway = served(BINDING.replace("GATEWAY=192.0.2.1\n", ""))
    assert dhcp_options(one_reply(frames.dhcp(MAC, "discover"), no_gateway))["server_id"] == "192.0.2.1"
    fixed = Settings.from_config(config.from_text("DHCP_SERVER_IP=198.51.100.67"))
    reply = one_reply(frames.dhcp(MAC, "discover"), settings=fixed)
    assert dhcp_options(reply)["server_id"] == "198.51.100.67" and reply[IP].src == "198.51.100.67"
    # No DHCP_DOMAIN: the hostname's domain.
    assert dhcp_options(reply)["domain"] == b"example.org"


def test_a_foreign_hardware_address_is_ignored_unless_macspoof() -> None:
    other = bytes.fromhex("aa0000666666")
    for data in (frames.dhcp(other, "discover"), frames.dhcp(MAC, "discover", chaddr=other), frames.rs(other)):
        reply = answer(data, served(), SETTINGS, SERVER_MAC)
        assert reply.frames == () and "is not the binding's" in reply.ignored
        assert answer(data, served(BINDING + "MACSPOOF=1\n"), SETTINGS, SERVER_MAC).frames


def test_no_ip_no_dhcp() -> None:
    reply = answer(frames.dhcp(MAC, "discover"), served(BINDING.replace("IP=192.0.2.10\n", "")), SETTINGS,
                   SERVER_MAC)
    assert reply.frames == () and "no IP" in reply.ignored


def test_router_solicitation_gets_prefix_mtu_rdnss_and_dnssl() -> None:
    reply = one_reply(frames.rs(MAC))
    assert reply[IPv6].src == "fe80::ce47:52ff:fe4e:4554" and reply[IPv6].hlim == 255
    assert reply[IPv6].dst == frames.link_local(MAC) and reply.dst == "aa:00:00:12:34:56"
    ra = reply[ICMPv6ND_RA]
    assert ra.O == 1 and ra.M == 0 and ra.routerlifetime == 1800
    prefix = reply[ICMPv6NDOptPrefixInfo]
    assert prefix.prefix == "2001:db8:1::1" and prefix.prefixlen == 64 and prefix.L and prefix.A and prefix.R
    assert reply[ICMPv6NDOptMTU].mtu == 1450
    assert reply[ICMPv6NDOptRDNSS].dns == ["2001:db8:53::53"]
    assert reply[ICMPv6NDOptDNSSL].searchlist == ["example.org."]
    rebuilt = Ether(bytes(reply))
    del rebuilt[ICMPv6ND_RA].cksum
    assert Ether(bytes(rebuilt))[ICMPv6ND_RA].cksum == ra.cksum


def test_a_stable_privacy_or_unspecified_source_still_gets_its_ra() -> None:
    # nfdhcpd derived the MAC from the source address and dropped these as spoofed.
    reply = one_reply(frames.rs(MAC, src="fe80::1234:5678:9abc:def0"))
    assert reply[IPv6].dst == "fe80::1234:5678:9abc:def0"
    reply = one_reply(frames.rs(MAC, src="::"))
    assert reply[IPv6].dst == "ff02::1" and reply.dst == "33:33:00:00:00:01"


def test_periodic_advertisement_goes_to_all_nodes() -> None:
    frame = Ether(router_advertisement(served(), SETTINGS, SERVER_MAC, bytes.fromhex("ff02" + "00" * 13 + "01"),
                                       bytes.fromhex("333300000001")))
    assert frame[IPv6].dst == "ff02::1" and frame[ICMPv6NDOptPrefixInfo].prefixlen == 64


def test_neighbour_solicitations_on_routed_taps() -> None:
    na = one_reply(frames.ns(MAC, "2001:db8:1::1"))
    assert na[ICMPv6ND_NA].tgt == "2001:db8:1::1" and na[ICMPv6ND_NA].R == 1 and na[ICMPv6ND_NA].S == 1
    assert na[ICMPv6ND_NA].O == 0 and na[IPv6].dst == frames.link_local(MAC)
    assert one_reply(frames.ns(MAC, "fe80::ce47:52ff:fe4e:4554"))[ICMPv6ND_NA].tgt == "fe80::ce47:52ff:fe4e:4554"
    for data, why in [
        (frames.ns(MAC, "2001:db8:1::1", src="::"), "duplicate address detection"),
        (frames.ns(MAC, "2001:db8:1:0:a800:ff:fe12:3456"), "VM's own"),
        (frames.ns(MAC, "2001:db8:9::1"), "not the router's"),
        (frames.ns(MAC, "2001:db8:1::1", option=False), "without a source link-layer address"),
    ]:
        reply = answer(data, served(), SETTINGS, SERVER_MAC)
        assert reply.frames == () and why in reply.ignored


def test_bridged_ports_get_dhcp_but_no_ipv6_answers() -> None:
    bridged = served(BINDING.replace("INDEV=tap1", "INDEV=br0"))
    assert one_reply(frames.dhcp(MAC, "discover"), bridged)
    for data in (frames.rs(MAC), frames.ns(MAC, "2001:db8:1::1"), frames.info_request(MAC)):
        reply = answer(data, bridged, SETTINGS, SERVER_MAC)
        assert reply.frames == () and "bridged" in reply.ignored


def test_dhcpv6_information_request_gets_dns_servers_and_search_list() -> None:
    reply = one_reply(frames.info_request(MAC))
    assert reply[UDP].sport == 547 and reply[UDP].dport == 546
    message = reply[DHCP6_Reply]
    assert message.trid == 0xABCDE
    assert message[DHCP6OptDNSServers].dnsservers == ["2001:db8:53::53"]
    assert message[DHCP6OptDNSDomains].dnsdomains == ["example.org."]


def test_every_truncation_and_corruption_is_dropped_without_an_exception() -> None:
    rng = random.Random(4)
    binding = served(BINDING)
    for name, template in frames.requests(MAC).items():
        for cut in range(len(template)):
            answer(template[:cut], binding, SETTINGS, SERVER_MAC)
        for _ in range(2000):
            data = bytearray(template)
            for _ in range(rng.randint(1, 6)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            reply = answer(bytes(data), binding, SETTINGS, SERVER_MAC)
            assert isinstance(reply.frames, tuple), name
        # Ethernet padding after the packet is not part of it: still answered.
        padded = template + bytes(rng.randrange(256) for _ in range(64))
        assert answer(padded, binding, SETTINGS, SERVER_MAC).frames, name


# -- the kernel filter, run by a small classic-BPF interpreter -------------

def run_filter(program: list[tuple[int, int, int, int]], packet: bytes, vlan: bool = False) -> int:
    """The program run on ``packet``; ``vlan``: it came with a VLAN tag (which the kernel took off)."""
    a = x = pc = 0
    while True:
        code, jt, jf, k = program[pc]
        pc += 1
        try:
            if code == bpf.LD_W_ABS and k == bpf.VLAN_TAG_PRESENT:
                a = int(vlan)
            elif code == bpf.LD_H_ABS:
                a = struct.unpack_from("!H", packet, k)[0]
            elif code == bpf.LD_B_ABS:
                a = packet[k]
            elif code == bpf.LDX_B_MSH:
                x = (packet[k] & 0x0F) * 4
            elif code == bpf.LD_H_IND:
                a = struct.unpack_from("!H", packet, x + k)[0]
            elif code == bpf.JEQ:
                pc += jt if a == k else jf
            elif code == bpf.JSET:
                pc += jt if a & k else jf
            elif code == bpf.RET:
                return k
            else:
                raise AssertionError(f"unknown opcode {code:#x}")
        except (IndexError, struct.error):
            return 0  # the kernel's rule for a load past the end


def test_the_filter_passes_the_requests_and_nothing_else() -> None:
    for name, data in frames.requests(MAC).items():
        assert run_filter(bpf.PROGRAM, data) == bpf.SNAP, name
    fragment = bytearray(frames.dhcp(MAC, "discover"))
    fragment[20:22] = b"\x00\x10"  # fragment offset 16
    others = [
        bytes(Ether() / IP(dst="192.0.2.1") / UDP(dport=68)),
        bytes(Ether() / IPv6() / UDP(dport=546)),
        bytes(Ether(src="aa:00:00:12:34:56") / IPv6(dst="ff02::1") / ICMPv6ND_NA()),
        bytes(fragment),
        b"\x00" * 13,
    ]
    for data in others:
        assert run_filter(bpf.PROGRAM, data) == 0
    options = bytes(Ether() / IP(options=b"\x01\x01\x01\x00") / UDP(sport=68, dport=67))  # a longer header
    assert run_filter(bpf.PROGRAM, options) == bpf.SNAP
    for name, data in frames.requests(MAC).items():
        assert run_filter(bpf.PROGRAM, data, vlan=True) == 0, name


def test_an_oversized_request_is_ignored_before_it_is_parsed() -> None:
    # A tap takes 64 KB frames from a guest whatever its MTU; pads or repeated
    # options that long cost tens of ms each to parse (a denial of service at
    # a thousand frames a second), so anything longer than a request can be is dropped.
    request = frames.dhcp(MAC, "discover")
    padded = request + b"\0" * 60000
    reply = answer(padded, served(), SETTINGS, SERVER_MAC)
    assert reply.frames == () and "larger than any request" in reply.ignored
    assert one_reply(request + b"\0" * 1000)  # a long but plausible one is still answered


def test_repeated_options_are_concatenated_in_order() -> None:
    from snf_network.dhcpd import codec

    head = bytes([1, 1, 6, 0]) + b"\0" * 232 + codec.MAGIC
    message = codec.dhcp(head + b"\x35\x01\x01" + b"\x0c\x01a\x0c\x01b\x00\x0c\x02cd\xff")
    assert message.options[12] == b"abcd" and message.message_type == codec.DISCOVER


def test_hundreds_of_tiny_options_are_malformed_and_pads_still_skipped() -> None:
    from snf_network.dhcpd import codec

    head = bytes([1, 1, 6, 0]) + b"\0" * 232 + codec.MAGIC
    with pytest.raises(codec.Malformed, match="more than 64 options"):
        codec.dhcp(head + b"\x35\x01\x01" + b"\x0c\x01a" * 500)
    with pytest.raises(codec.Malformed, match="more than 64 options"):
        codec.dhcpv6_options(b"\x00\x10\x00\x00" * 300)
    message = codec.dhcp(head + b"\0" * 1500 + b"\x35\x01\x03" + b"\0" * 7 + b"\x0c\x02vm\xff")
    assert message.message_type == codec.REQUEST and message.options[12] == b"vm"


@pytest.mark.parametrize("hostname", ["vm." + "a" * 300 + ".org", "vm." + "b" * 64 + ".org", "vm.a..org"])
def test_a_hostname_no_dns_name_can_hold_gives_no_search_list_rather_than_a_corrupt_or_no_ra(hostname) -> None:
    # No DHCP_DOMAINS6 or DHCP_DOMAIN: the search list is the binding's HOSTNAME after its first dot.
    settings = Settings.from_config(config.from_text("DHCP_NAMESERVERS6=2001:db8:53::53\n"))
    binding = served(BINDING.replace("HOSTNAME=vm1.example.org", f"HOSTNAME={hostname}"))
    ra = Ether(router_advertisement(binding, settings, SERVER_MAC, bytes(16), b"\xff" * 6))
    assert ra[ICMPv6NDOptRDNSS].dns == ["2001:db8:53::53"] and ICMPv6NDOptDNSSL not in ra
    reply = one_reply(frames.rs(MAC), binding, settings)
    assert ICMPv6NDOptDNSSL not in reply
    six = one_reply(frames.info_request(MAC), binding, settings)
    assert DHCP6OptDNSServers in six and DHCP6OptDNSDomains not in six
