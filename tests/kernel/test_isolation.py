"""private-filtered isolation and anti-spoofing with real and crafted frames through a real bridge.

Four VMs on one shared bridge: A1 and A2 in network A (MAC prefix aa:00:01),
B1 and B2 in network B (aa:00:02), all in the same IP subnets, so only our
rules keep the networks apart.
"""

from __future__ import annotations

import pytest

from tests.lab import Lab, Vm

pytestmark = pytest.mark.kernel
scapy = pytest.importorskip("scapy.all", reason="scapy is not installed (tools/setup.sh installs python3-scapy)")
Ether, ARP, IP, UDP, IPv6, Raw = scapy.Ether, scapy.ARP, scapy.IP, scapy.UDP, scapy.IPv6, scapy.Raw
BOOTP, DHCP, Dot1Q = scapy.BOOTP, scapy.DHCP, scapy.Dot1Q
ICMPv6ND_NA, ICMPv6ND_RA, ICMPv6NDOptDstLLAddr = scapy.ICMPv6ND_NA, scapy.ICMPv6ND_RA, scapy.ICMPv6NDOptDstLLAddr
DHCP6_Advertise = scapy.DHCP6_Advertise

SUBNET6 = "2001:db8:5::"
NETWORKS = {"A": "aa:00:01", "B": "aa:00:02"}
VMS = {"A1": ("aa:00:01:00:00:01", "192.0.2.11"), "A2": ("aa:00:01:00:00:02", "192.0.2.12"),
       "B1": ("aa:00:02:00:00:01", "192.0.2.21"), "B2": ("aa:00:02:00:00:02", "192.0.2.22")}


def eui64(mac: str, prefix: str = SUBNET6) -> str:
    octets = bytes.fromhex(mac.replace(":", ""))
    iid = bytes([octets[0] ^ 2]) + octets[1:3] + b"\xff\xfe" + octets[3:]
    groups = [iid[i : i + 2].hex() for i in range(0, 8, 2)]
    return prefix + ":".join(groups)


@pytest.fixture
def shared(lab: Lab) -> dict[str, Vm]:
    lab.build(routed=False)
    lab.bridge("prv0")
    vms = {}
    for index, (name, (mac, ip)) in enumerate(VMS.items(), start=1):
        vm = lab.add_vm(index, mac)
        env = lab.ganeti_env(vm, ip=ip, mode="bridged", link="prv0", tags="private-filtered",
                             NETWORK_MAC_PREFIX=NETWORKS[name[0]], NETWORK_SUBNET="192.0.2.0/24",
                             NETWORK_GATEWAY="", NETWORK_SUBNET6=SUBNET6 + "/64", NETWORK_GATEWAY6="")
        lab.program("kvm-vif-bridge", env)
        lab.ns(vm.name, "ip", "addr", "add", f"{ip}/24", "dev", "eth0")
        lab.ns(vm.name, "ip", "-6", "addr", "add", f"{eui64(mac)}/64", "dev", "eth0", "nodad")
        vm.ip = ip
        vms[name] = vm
    return vms


def arrived(frames: list[bytes], marker: bytes) -> bool:
    return any(marker in frame for frame in frames)


def test_same_network_talks_over_ipv4_and_ipv6(lab: Lab, shared: dict[str, Vm]) -> None:
    a1, a2 = shared["A1"], shared["A2"]
    assert lab.ping(a1.name, a2.ip)
    assert lab.ping(a1.name, eui64(a2.mac))  # neighbour discovery included
    assert lab.ping(a2.name, a1.ip)


def test_networks_do_not_see_each_other(lab: Lab, shared: dict[str, Vm]) -> None:
    for src, dst in (("A1", "B1"), ("B1", "A1")):
        source, target = shared[src], shared[dst]
        assert not lab.ping(source.name, target.ip, count=1)
        assert not lab.ping(source.name, eui64(target.mac), count=1)
        sniffer = lab.sniff(target.name, "eth0")
        marker = f"from-{src}".encode()
        lab.send_frames(source.name, "eth0", [
            bytes(Ether(src=source.mac, dst=target.mac) / IP(src=source.ip, dst=target.ip) / UDP() / marker),
            bytes(Ether(src=source.mac, dst="ff:ff:ff:ff:ff:ff") / IP(src=source.ip, dst="255.255.255.255")
                  / UDP() / marker),
            bytes(Ether(src=source.mac, dst="33:33:00:00:00:01") / IPv6(src=eui64(source.mac), dst="ff02::1")
                  / UDP() / marker),
            bytes(Ether(src=source.mac, dst="ff:ff:ff:ff:ff:ff") / ARP(hwsrc=source.mac, psrc=source.ip,
                                                                    pdst=target.ip) / marker),
        ])
        frames = sniffer.frames()
        assert not arrived(frames, marker), f"{src} reached {dst}"
    # ...while the same frames reach the VM's own network (the test can fail).
    a1, a2 = shared["A1"], shared["A2"]
    sniffer = lab.sniff(a2.name, "eth0")
    lab.send_frames(a1.name, "eth0", [bytes(Ether(src=a1.mac, dst="ff:ff:ff:ff:ff:ff")
                                            / IP(src=a1.ip, dst="255.255.255.255") / UDP() / b"to-A2")])
    assert arrived(sniffer.frames(), b"to-A2")


def crafted(a1: Vm, a2: Vm) -> dict[str, tuple[bytes, bytes]]:
    """Name -> (spoofed frame, the same frame done right), marked b"bad-<name>" and b"good-<name>"."""
    mine6, theirs6 = eui64(a1.mac), eui64(a2.mac)
    bcast, allnodes = "ff:ff:ff:ff:ff:ff", "33:33:00:00:00:01"

    def pair(name: str, bad: scapy.Packet, good: scapy.Packet) -> tuple[bytes, bytes]:
        return bytes(bad / Raw(f"bad-{name}".encode())), bytes(good / Raw(f"good-{name}".encode()))

    link_local = eui64(a1.mac, "fe80::")
    return {
        "source MAC": pair("mac", Ether(src="aa:00:01:00:00:99", dst=bcast) / IP(src=a1.ip, dst="255.255.255.255")
                           / UDP(), Ether(src=a1.mac, dst=bcast) / IP(src=a1.ip, dst="255.255.255.255") / UDP()),
        "IPv4 source": pair("ip4", Ether(src=a1.mac, dst=bcast) / IP(src="192.0.2.99", dst="255.255.255.255")
                            / UDP(), Ether(src=a1.mac, dst=bcast) / IP(src=a1.ip, dst="255.255.255.255") / UDP()),
        "ARP sender IP": pair("arpip", Ether(src=a1.mac, dst=bcast) / ARP(hwsrc=a1.mac, psrc="192.0.2.99",
                                                                             pdst=a2.ip),
                              Ether(src=a1.mac, dst=bcast) / ARP(hwsrc=a1.mac, psrc=a1.ip, pdst=a2.ip)),
        "ARP sender MAC": pair("arpmac", Ether(src=a1.mac, dst=bcast) / ARP(hwsrc="aa:00:01:00:00:99",
                                                                               psrc=a1.ip, pdst=a2.ip),
                               Ether(src=a1.mac, dst=bcast) / ARP(hwsrc=a1.mac, psrc=a1.ip, pdst=a2.ip)),
        "IPv6 source": pair("ip6", Ether(src=a1.mac, dst=allnodes) / IPv6(src=SUBNET6 + "99", dst="ff02::1")
                            / UDP(), Ether(src=a1.mac, dst=allnodes) / IPv6(src=mine6, dst="ff02::1") / UDP()),
        "NA for another VM": pair("na", Ether(src=a1.mac, dst=allnodes) / IPv6(src=mine6, dst="ff02::1")
                                  / ICMPv6ND_NA(tgt=theirs6, R=0, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr=a1.mac),
                                  Ether(src=a1.mac, dst=allnodes) / IPv6(src=mine6, dst="ff02::1")
                                  / ICMPv6ND_NA(tgt=mine6, R=0, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr=a1.mac)),
        "router advertisement": pair("ra", Ether(src=a1.mac, dst=allnodes) / IPv6(src=mine6, dst="ff02::1")
                                     / ICMPv6ND_RA(),
                                     Ether(src=a1.mac, dst=allnodes) / IPv6(src=mine6, dst="ff02::1") / UDP()),
        "DHCP offer": pair("dhcp", Ether(src=a1.mac, dst=bcast) / IP(src=a1.ip, dst="255.255.255.255")
                           / UDP(sport=67, dport=68) / BOOTP(op=2, yiaddr="192.0.2.77")
                           / DHCP(options=[("message-type", "offer"), "end"]),
                           Ether(src=a1.mac, dst=bcast) / IP(src="0.0.0.0", dst="255.255.255.255")
                           / UDP(sport=68, dport=67) / BOOTP(op=1, chaddr=bytes.fromhex(a1.mac.replace(":", "")))
                           / DHCP(options=[("message-type", "discover"), "end"])),
        "VLAN-tagged ARP": pair("vlanarp", Ether(src=a1.mac, dst=bcast) / Dot1Q(vlan=0)
                                / ARP(hwsrc=a1.mac, psrc=a2.ip, pdst=a2.ip),
                                Ether(src=a1.mac, dst=bcast) / ARP(hwsrc=a1.mac, psrc=a1.ip, pdst=a2.ip)),
        "VLAN-tagged RA": pair("vlanra", Ether(src=a1.mac, dst=allnodes) / Dot1Q(vlan=0)
                               / IPv6(src=link_local, dst="ff02::1") / ICMPv6ND_RA(),
                               Ether(src=a1.mac, dst=allnodes) / IPv6(src=mine6, dst="ff02::1") / UDP()),
        "DHCPv6 advertise": pair("dhcp6", Ether(src=a1.mac, dst="33:33:00:01:00:02")
                                 / IPv6(src=link_local, dst="ff02::1:2") / UDP(sport=547, dport=546)
                                 / DHCP6_Advertise(),
                                 Ether(src=a1.mac, dst=allnodes) / IPv6(src=mine6, dst="ff02::1") / UDP()),
    }


def test_crafted_spoofs_are_dropped_and_the_honest_frames_pass(lab: Lab, shared: dict[str, Vm]) -> None:
    a1, a2 = shared["A1"], shared["A2"]
    cases = crafted(a1, a2)
    at_a2 = lab.sniff(a2.name, "eth0", seconds=4)  # two sniffers' starts, then the sender's (Lab.sniff)
    at_bridge = lab.sniff(lab.node, "prv0", seconds=4)
    lab.send_frames(a1.name, "eth0", [frame for pair in cases.values() for frame in pair])
    seen_a2, seen_bridge = at_a2.frames(), at_bridge.frames()
    for name, (bad, good) in cases.items():
        bad_tag = b"bad-" + bad.split(b"bad-")[-1]
        good_tag = b"good-" + good.split(b"good-")[-1]
        assert not arrived(seen_a2, bad_tag), f"spoofed {name} reached A2"
        assert not arrived(seen_bridge, bad_tag), f"spoofed {name} reached the bridge"
        assert arrived(seen_a2, good_tag) or arrived(seen_bridge, good_tag), f"honest {name} was dropped"


def test_routed_taps_check_mac_and_arp_too(lab: Lab) -> None:
    lab.build()
    vm = lab.add_vm(1, "aa:00:00:12:34:56")
    lab.program("kvm-vif-bridge", lab.ganeti_env(vm, ip="192.0.2.10"))
    lab.configure_vm(vm, "192.0.2.10", "2001:db8:1::a800:ff:fe12:3456")
    assert lab.ping(vm.name, "192.0.2.1")
    gateway_mac = "cc:47:52:4e:45:54"
    at_upstream = lab.sniff(lab.upstream, "up0", seconds=4)
    lab.send_frames(vm.name, "eth0", [
        bytes(Ether(src="aa:00:00:12:34:99", dst=gateway_mac) / IP(src="192.0.2.10", dst="192.0.2.1") / UDP()
              / b"bad-mac"),
        bytes(Ether(src=vm.mac, dst=gateway_mac) / IP(src="192.0.2.10", dst="192.0.2.1") / UDP() / b"good-mac"),
        bytes(Ether(src=vm.mac, dst="ff:ff:ff:ff:ff:ff") / ARP(hwsrc=vm.mac, psrc="192.0.2.77", pdst="192.0.2.1")),
        bytes(Ether(src=vm.mac, dst="ff:ff:ff:ff:ff:ff") / ARP(hwsrc="aa:00:00:12:34:99", psrc="192.0.2.10",
                                                            pdst="192.0.2.1")),
    ])
    frames = at_upstream.frames()
    assert not arrived(frames, b"bad-mac") and arrived(frames, b"good-mac")
    neighbours = lab.ns(lab.node, "ip", "neigh", "show", "dev", vm.tap).stdout
    assert "192.0.2.77" not in neighbours and "aa:00:00:12:34:99" not in neighbours


def test_without_ip_the_policy_key_decides(lab: Lab) -> None:
    lab.build(routed=False)
    lab.bridge("br0", "203.0.113.1/24")
    vm = lab.add_vm(1, "aa:00:00:00:00:01")
    env = lab.ganeti_env(vm, mode="bridged", link="br0", tags="", NETWORK_SUBNET="", NETWORK_GATEWAY="",
                         NETWORK_SUBNET6="", NETWORK_GATEWAY6="")
    lab.program("kvm-vif-bridge", env)
    lab.ns(vm.name, "ip", "addr", "add", "203.0.113.10/24", "dev", "eth0")
    assert not lab.ping(vm.name, "203.0.113.1", count=1)  # dhcp-only, the default
    lab.write_config("NIC_WITHOUT_IP=any\n")
    lab.program("kvm-vif-bridge", env)
    # Forget the failed resolutions of the first attempt.
    lab.ns(vm.name, "ip", "neigh", "flush", "dev", "eth0")
    lab.ns(lab.node, "ip", "neigh", "flush", "dev", "br0")
    assert lab.ping(vm.name, "203.0.113.1")
    lab.program("kvm-ifdown-custom", env, vm.tap, "true")
    assert '"tap1"' not in lab.ns(lab.node, "nft", "list", "ruleset").stdout
