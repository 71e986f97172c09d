"""What a VM may send to other VMs and to the node, with real clients and real packets.

- DHCP and DHCPv6 server answers from a VM are dropped whatever their source
  port: ISC dhclient takes an offer from any port (checked here: it does,
  until the rogue's port is ours).
- Duplicate address detection probes only for the VM's own addresses: a probe
  for another's makes that address fail while it is tentative.
- A routed VM reaches none of the node's services, whichever address of the
  node it aims at, while ping, neighbour discovery and DHCP still work.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.lab import NODE_IP, SUBNET, TABLE, Lab, Vm
from tests.lab import SUBNET6 as SUBNET6_ROUTED

pytestmark = pytest.mark.kernel
scapy = pytest.importorskip("scapy.all", reason="scapy is not installed (tools/setup.sh installs python3-scapy)")
Ether, IP, IPv6, UDP, Raw = scapy.Ether, scapy.IP, scapy.IPv6, scapy.UDP, scapy.Raw
ICMPv6ND_NS, DHCP6_Reply = scapy.ICMPv6ND_NS, scapy.DHCP6_Reply

SUBNET6 = "2001:db8:5::"
PREFIX = "aa:00:01"
CLIENT = ("aa:00:01:00:00:01", "192.0.2.11")
ROGUE = ("aa:00:01:00:00:02", "192.0.2.12")
OFFERED = "192.0.2.77"
# Every routed tap's link-local address (its constant MAC's), the VM's IPv6 gateway.
TAP_LINK_LOCAL = "fe80::ce47:52ff:fe4e:4554"
NODE_IP6 = "2001:db8:ff::2"  # an address of the node's uplink, for these tests
ROUTED_MAC, ROUTED_IP, ROUTED_EUI64 = "aa:00:00:12:34:56", "192.0.2.10", "2001:db8:1::a800:ff:fe12:3456"

# A DHCP server in a few lines, run inside a namespace: it answers DISCOVER
# with OFFER and REQUEST with ACK for OFFERED, broadcast to port 68 from the
# source port it is given (67 for an honest server, anything for a rogue).
DHCP_SERVER = r"""
import socket, struct, sys, time
device, address, offered, sport, seconds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
rx.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device.encode())
rx.bind(("", 67))
tx = rx if sport == 67 else socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tx.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
tx.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device.encode())
if tx is not rx:
    tx.bind((address, sport))
print("ready", file=sys.stderr, flush=True)
deadline = time.monotonic() + seconds
while (left := deadline - time.monotonic()) > 0:
    rx.settimeout(left)
    try:
        data = rx.recv(2048)
    except TimeoutError:
        break
    if len(data) < 240 or data[0] != 1:
        continue
    options, kind = data[240:], None
    while len(options) > 2 and options[0] != 255:
        if options[0] == 53:
            kind = options[2]
        options = options[2 + options[1]:]
    answer = {1: 2, 3: 5}.get(kind)  # DISCOVER -> OFFER, REQUEST -> ACK
    if answer is None:
        continue
    me = socket.inet_aton(address)
    reply = (bytes([2, 1, 6, 0]) + data[4:8] + b"\0\0\x80\0" + bytes(4) + socket.inet_aton(offered) + me
             + bytes(4) + data[28:44] + bytes(192) + b"\x63\x82\x53\x63"
             + bytes([53, 1, answer, 54, 4]) + me + bytes([51, 4]) + struct.pack("!I", 600)
             + bytes([1, 4, 255, 255, 255, 0, 255]))
    tx.sendto(reply, ("255.255.255.255", 68))
"""


def eui64(mac: str, prefix: str = SUBNET6) -> str:
    octets = bytes.fromhex(mac.replace(":", ""))
    iid = bytes([octets[0] ^ 2]) + octets[1:3] + b"\xff\xfe" + octets[3:]
    return str(ipaddress.IPv6Address(prefix + ":".join(iid[i : i + 2].hex() for i in range(0, 8, 2))))


@contextmanager
def dhcp_server(lab: Lab, namespace: str, device: str, address: str, sport: int) -> Iterator[None]:
    process = subprocess.Popen(
        ["ip", "netns", "exec", namespace, sys.executable, "-c", DHCP_SERVER, device, address, OFFERED,
         str(sport), "60"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None and process.stderr.readline().strip() == "ready"
        yield
    finally:
        process.kill()
        process.communicate()


def dhclient_lease(lab: Lab, vm: Vm, seconds: float = 6) -> str:
    """Run ISC dhclient once in ``vm`` (configuring nothing); the address it was given, or ''."""
    directory = lab.workdir / f"dhclient-{vm.name}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    conf = directory / "dhclient.conf"
    conf.write_text(f"timeout {int(seconds)};\ninitial-interval 1;\n")
    leases = directory / "leases"
    # -d: stay in the foreground, so the process to stop is the one started
    # here; -sf /bin/true: touch nothing (dhclient-script would write the
    # shared /etc/resolv.conf).
    process = subprocess.Popen(
        ["ip", "netns", "exec", vm.name, "dhclient", "-4", "-1", "-d", "-cf", str(conf), "-lf", str(leases),
         "-pf", str(directory / "pid"), "-sf", "/bin/true", "eth0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + seconds + 2
        while process.poll() is None and time.monotonic() < deadline:
            text = leases.read_text() if leases.exists() else ""
            if "fixed-address" in text:
                return text.split("fixed-address ", 1)[1].split(";", 1)[0]
            time.sleep(0.2)
        return ""
    finally:
        process.kill()
        process.wait()


def bridged_vm(lab: Lab, index: int, mac: str, ip: str, managed: bool = True) -> Vm:
    """A VM on the private-filtered bridge prv0: through kvm-vif-bridge, or plugged in by hand."""
    vm = lab.add_vm(index, mac)
    vm.ip = ip
    if managed:
        lab.program("kvm-vif-bridge", bridged_env(lab, vm))
    else:
        lab.ns(lab.node, "ip", "link", "set", vm.tap, "master", "prv0", "up")
    return vm


def bridged_env(lab: Lab, vm: Vm) -> dict[str, str]:
    return lab.ganeti_env(vm, ip=vm.ip, mode="bridged", link="prv0", tags="private-filtered",
                          NETWORK_MAC_PREFIX=PREFIX, NETWORK_SUBNET="192.0.2.0/24", NETWORK_GATEWAY="",
                          NETWORK_SUBNET6=SUBNET6 + "/64", NETWORK_GATEWAY6="")


def nothing_of_ours(lab: Lab, *taps: str) -> None:
    ruleset = lab.ns(lab.node, "nft", "list", "ruleset").stdout
    for tap in taps:
        assert f'"{tap}"' not in ruleset
        assert not (lab.workdir / "state" / f"{tap}.json").exists()
    assert lab.ns(lab.node, "ip", "-6", "neigh", "show", "proxy").stdout == ""


def arrived(frames: list[bytes], marker: bytes) -> bool:
    return any(marker in frame for frame in frames)


# -- DHCP and DHCPv6 answers ---------------------------------------------------

def test_a_rogue_dhcp_server_on_another_port_gets_nothing_to_a_bridged_client(lab: Lab) -> None:
    lab.build(routed=False)
    lab.bridge("prv0")
    client = bridged_vm(lab, 1, *CLIENT)
    rogue = bridged_vm(lab, 2, *ROGUE, managed=False)
    lab.ns(rogue.name, "ip", "addr", "add", f"{rogue.ip}/24", "dev", "eth0")
    with dhcp_server(lab, rogue.name, "eth0", rogue.ip, 1234):
        # The rogue's port is not ours yet: dhclient takes its offer from port 1234...
        assert dhclient_lease(lab, client) == OFFERED
        # ...until it is.
        lab.program("kvm-vif-bridge", bridged_env(lab, rogue))
        assert dhclient_lease(lab, client) == ""
    # The server on the right port fares no better.
    with dhcp_server(lab, rogue.name, "eth0", rogue.ip, 67):
        assert dhclient_lease(lab, client) == ""
    for vm in (client, rogue):
        lab.program("kvm-ifdown-custom", bridged_env(lab, vm), vm.tap, "true")
    nothing_of_ours(lab, client.tap, rogue.tap)


def server_frames(source: Vm, target: Vm, source6: str, target6: str) -> dict[str, bytes]:
    """DHCP and DHCPv6 server messages from ``source``, from ports other than 67 and 547."""
    bootp = scapy.BOOTP(op=2, yiaddr=OFFERED, chaddr=bytes.fromhex(target.mac.replace(":", "")))
    offer = bootp / scapy.DHCP(options=[("message-type", "offer"), "end"])
    return {
        "offer from 1234": bytes(Ether(src=source.mac, dst="ff:ff:ff:ff:ff:ff")
                                 / IP(src=source.ip, dst="255.255.255.255") / UDP(sport=1234, dport=68)
                                 / offer / Raw(b"bad-offer")),
        "unicast ack from 68": bytes(Ether(src=source.mac, dst=target.mac) / IP(src=source.ip, dst=target.ip)
                                     / UDP(sport=68, dport=68) / offer / Raw(b"bad-unicast")),
        "reply to a relay": bytes(Ether(src=source.mac, dst="ff:ff:ff:ff:ff:ff")
                                  / IP(src=source.ip, dst="255.255.255.255") / UDP(sport=67, dport=67)
                                  / offer / Raw(b"bad-relay")),
        "DHCPv6 reply from 1234": bytes(Ether(src=source.mac, dst="33:33:00:01:00:02")
                                        / IPv6(src=source6, dst="ff02::1:2") / UDP(sport=1234, dport=546)
                                        / DHCP6_Reply() / Raw(b"bad-dhcp6")),
        "DHCPv6 relay-reply to 547": bytes(Ether(src=source.mac, dst="33:33:00:01:00:02")
                                           / IPv6(src=source6, dst="ff02::1:2") / UDP(sport=547, dport=547)
                                           / scapy.DHCP6_RelayReply() / Raw(b"bad-relay6")),
        # What a client sends still passes (the test can fail).
        "DHCPv6 solicit": bytes(Ether(src=source.mac, dst="33:33:00:01:00:02")
                                / IPv6(src=source6, dst="ff02::1:2") / UDP(sport=546, dport=547)
                                / scapy.DHCP6_Solicit() / Raw(b"good-dhcp6")),
        "discover": bytes(Ether(src=source.mac, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255")
                          / UDP(sport=68, dport=67) / scapy.BOOTP(op=1)
                          / scapy.DHCP(options=[("message-type", "discover"), "end"]) / Raw(b"good-discover")),
    }


def test_dhcp_and_dhcpv6_server_messages_from_any_port_do_not_cross_the_bridge(lab: Lab) -> None:
    lab.build(routed=False)
    lab.bridge("prv0")
    rogue = bridged_vm(lab, 1, *ROGUE)
    client = bridged_vm(lab, 2, *CLIENT)
    frames = server_frames(rogue, client, eui64(rogue.mac, "fe80::"), eui64(client.mac, "fe80::"))
    sniffer = lab.sniff(client.name, "eth0")
    lab.send_frames(rogue.name, "eth0", list(frames.values()))
    seen = sniffer.frames()
    for name, frame in frames.items():
        tag = frame[frame.rindex(b"bad-") if b"bad-" in frame else frame.rindex(b"good-"):]
        assert arrived(seen, tag) == tag.startswith(b"good-"), name
    for vm in (client, rogue):
        lab.program("kvm-ifdown-custom", bridged_env(lab, vm), vm.tap, "true")
    nothing_of_ours(lab, client.tap, rogue.tap)


def test_dhcp_server_messages_from_a_routed_vm_are_not_routed_to_another(lab: Lab) -> None:
    lab.build()
    rogue = lab.add_vm(1, ROUTED_MAC)
    client = lab.add_vm(2, "aa:00:00:65:43:21")
    for vm, ip, address in ((rogue, ROUTED_IP, ROUTED_EUI64), (client, "192.0.2.20", "2001:db8:1::a800:ff:fe65:4321")):
        lab.program("kvm-vif-bridge", lab.ganeti_env(vm, ip=ip, tags="ip-less-routed"))
        lab.configure_vm(vm, ip, address)
    gateway_mac = "cc:47:52:4e:45:54"
    assert lab.ping(rogue.name, client.ip)  # the way between them works
    sniffer = lab.sniff(client.name, "eth0")
    lab.send_frames(rogue.name, "eth0", [
        bytes(Ether(src=rogue.mac, dst=gateway_mac) / IP(src=rogue.ip, dst=client.ip) / UDP(sport=1234, dport=68)
              / Raw(b"bad-ack")),
        bytes(Ether(src=rogue.mac, dst=gateway_mac) / IPv6(src=ROUTED_EUI64, dst="2001:db8:1::a800:ff:fe65:4321")
              / UDP(sport=1234, dport=546) / DHCP6_Reply() / Raw(b"bad-reply6")),
        bytes(Ether(src=rogue.mac, dst=gateway_mac) / IP(src=rogue.ip, dst=client.ip) / UDP(sport=1234, dport=69)
              / Raw(b"good-tftp")),
    ])
    seen = sniffer.frames()
    assert not arrived(seen, b"bad-ack") and not arrived(seen, b"bad-reply6") and arrived(seen, b"good-tftp")
    for vm in (rogue, client):
        lab.program("kvm-ifdown-custom", lab.ganeti_env(vm), vm.tap, "true")
    nothing_of_ours(lab, rogue.tap, client.tap)


# -- duplicate address detection -----------------------------------------------

def dad_probe(mac: str, target: str) -> bytes:
    solicited = scapy.in6_getnsma(scapy.inet_pton(scapy.socket.AF_INET6, target))
    group = scapy.inet_ntop(scapy.socket.AF_INET6, solicited)
    return bytes(Ether(src=mac, dst=scapy.in6_getnsmac(solicited)) / IPv6(src="::", dst=group, hlim=255)
                 / ICMPv6ND_NS(tgt=target))


def tentative_address(lab: Lab, namespace: str, device: str, address: str) -> None:
    """Add ``address`` with duplicate address detection (3 probes, 1 s apart)."""
    for key, value in (("accept_dad", "1"), ("dad_transmits", "3")):
        lab.ns(namespace, "sysctl", "-qw", f"net.ipv6.conf.{device}.{key}={value}")
    lab.ns(namespace, "ip", "-6", "addr", "add", address, "dev", device)


def probe_while_tentative(lab: Lab, sender: Vm, target: str) -> None:
    for _ in range(4):
        lab.send_frames(sender.name, "eth0", [dad_probe(sender.mac, target)])
        time.sleep(0.25)


def address_flags(lab: Lab, namespace: str, device: str, address: str) -> str:
    for line in lab.ns(namespace, "ip", "-6", "-o", "addr", "show", "dev", device).stdout.splitlines():
        if f" {address}/" in line:
            return line
    raise AssertionError(f"{address} is not on {device}")


def dad_over(lab: Lab, namespace: str, device: str, address: str, seconds: float = 15.0) -> str:
    """``address``'s flags once its duplicate address detection is over: passed (no longer tentative) or failed.

    Waited for, not slept for: the first probe alone waits up to a second (rtr_solicit_delay) and
    the timers run late on a loaded machine; before the end, an attack could still fail it unseen.
    """
    deadline = time.monotonic() + seconds
    while True:
        flags = address_flags(lab, namespace, device, address)
        if "tentative" not in flags or "dadfailed" in flags or time.monotonic() > deadline:
            return flags
        time.sleep(0.1)


def test_a_bridged_vm_cannot_fail_its_neighbours_duplicate_address_detection(lab: Lab) -> None:
    lab.build(routed=False)
    lab.bridge("prv0")
    attacker = bridged_vm(lab, 1, *CLIENT)
    victim = bridged_vm(lab, 2, *ROGUE)
    victim_address = eui64(victim.mac)
    tentative_address(lab, victim.name, "eth0", f"{victim_address}/64")
    probe_while_tentative(lab, attacker, victim_address)
    flags = dad_over(lab, victim.name, "eth0", victim_address)  # the victim's three probes, a second apart
    assert "dadfailed" not in flags and "tentative" not in flags, flags
    # Its probes for its own addresses reach the others (the test can fail).
    sniffer = lab.sniff(victim.name, "eth0")
    own = [dad_probe(attacker.mac, eui64(attacker.mac)), dad_probe(attacker.mac, eui64(attacker.mac, "fe80::"))]
    lab.send_frames(attacker.name, "eth0", own)
    seen = sniffer.frames()
    assert all(any(frame[14:] in got for got in seen) for frame in own)
    for vm in (attacker, victim):
        lab.program("kvm-ifdown-custom", bridged_env(lab, vm), vm.tap, "true")
    nothing_of_ours(lab, attacker.tap, victim.tap)


def test_a_routed_vm_cannot_fail_the_taps_address_but_probes_its_own(lab: Lab) -> None:
    lab.build()
    vm = lab.add_vm(1, ROUTED_MAC)
    lab.program("kvm-vif-bridge", lab.ganeti_env(vm, ip=ROUTED_IP, tags="ip-less-routed"))
    # What the tap passes, counted after our checks (priority raw) in a table of the test's.
    own = int(scapy.inet_pton(scapy.socket.AF_INET6, ROUTED_EUI64).hex(), 16)
    script = ("table inet probe {\n  chain seen {\n    type filter hook prerouting priority 0; policy accept;\n"
              f"    ip6 saddr :: icmpv6 type nd-neighbor-solicit @th,64,128 0x{own:032x} counter\n  }}\n}}\n")
    subprocess.run(["ip", "netns", "exec", lab.node, "nft", "-f", "-"], input=script, text=True, check=True)
    # The tap's link-local address (every routed VM's IPv6 gateway) while it is tentative.
    lab.ns(lab.node, "ip", "-6", "addr", "flush", "dev", vm.tap, "scope", "link")
    tentative_address(lab, lab.node, vm.tap, f"{TAP_LINK_LOCAL}/64")
    probe_while_tentative(lab, vm, TAP_LINK_LOCAL)
    flags = dad_over(lab, lab.node, vm.tap, TAP_LINK_LOCAL)
    assert "dadfailed" not in flags and "tentative" not in flags, flags
    lab.send_frames(vm.name, "eth0", [dad_probe(vm.mac, ROUTED_EUI64)])
    counted = lab.ns(lab.node, "nft", "list", "table", "inet", "probe").stdout
    assert "packets 1 " in counted, counted
    lab.ns(lab.node, "nft", "delete", "table", "inet", "probe")
    lab.program("kvm-ifdown-custom", lab.ganeti_env(vm), vm.tap, "true")
    nothing_of_ours(lab, vm.tap)


# -- the node's own services ------------------------------------------------------

UDP_RECEIVER = r"""
import socket, sys
with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind(("::", int(sys.argv[1])))
    sock.settimeout(float(sys.argv[2]))
    print("ready", file=sys.stderr, flush=True)
    try:
        print(sock.recv(2048).hex())
    except TimeoutError:
        pass
"""
UDP_SENDER = r"""
import socket, sys
host, port, payload = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])
family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
with socket.socket(family, socket.SOCK_DGRAM) as sock:
    sock.sendto(payload, address)
"""


def udp_reaches_node(lab: Lab, vm: Vm, host: str, port: int, payload: bytes = b"hello") -> bool:
    """Whether a datagram from ``vm`` to ``host`` reaches a socket of the node's on :: and 0.0.0.0."""
    receiver = subprocess.Popen(["ip", "netns", "exec", lab.node, sys.executable, "-c", UDP_RECEIVER, str(port), "2"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert receiver.stderr is not None and receiver.stderr.readline().strip() == "ready"
    lab.ns(vm.name, sys.executable, "-c", UDP_SENDER, host, str(port), payload.hex())
    output, _ = receiver.communicate(timeout=10)
    return payload.hex() in output


def routed_lab(lab: Lab) -> Vm:
    """A routed VM, and a node whose own traffic to the VM's network goes through the tap.

    The rules are what an operator adds for the node itself to reach its
    VMs (monitoring, the node's own connections); without them the node could
    not answer from its uplink's addresses, and that part of the test could
    not fail.
    """
    lab.build()
    lab.ns(lab.node, "ip", "-6", "addr", "add", f"{NODE_IP6}/64", "dev", "eth0", "nodad")
    lab.ns(lab.node, "ip", "rule", "add", "to", SUBNET, "lookup", TABLE)
    lab.ns(lab.node, "ip", "-6", "rule", "add", "to", SUBNET6_ROUTED, "lookup", TABLE)
    vm = lab.add_vm(1, ROUTED_MAC)
    # No nfdhcpd tag: its queues would hand DHCP to an nfdhcpd that does not run here.
    lab.program("kvm-vif-bridge", lab.ganeti_env(vm, ip=ROUTED_IP, tags="ip-less-routed"))
    lab.configure_vm(vm, ROUTED_IP, ROUTED_EUI64)
    return vm


def test_a_routed_vm_reaches_no_service_of_the_node(lab: Lab) -> None:
    vm = routed_lab(lab)
    targets = (f"{TAP_LINK_LOCAL}%eth0", NODE_IP, NODE_IP6)
    with lab.serving(lab.node, 8080, seconds=60):
        for target in targets:
            assert not lab.connects(vm.name, target, 8080), target
        # The same service answers from elsewhere (the test can fail for the right reason).
        assert lab.connects(lab.upstream, NODE_IP, 8080)
    for target in targets:
        assert not udp_reaches_node(lab, vm, target, 5353), target
    # The node's own connections to the VM get their replies.
    running = lab.serve(vm.name, 22)
    try:
        assert lab.connects(lab.node, ROUTED_IP, 22)
        assert lab.connects(lab.node, ROUTED_EUI64, 22)
    finally:
        for process in running:
            process.kill()
            process.communicate()
    lab.program("kvm-ifdown-custom", lab.ganeti_env(vm), vm.tap, "true")
    nothing_of_ours(lab, vm.tap)


def test_a_routed_vm_still_pings_resolves_and_gets_dhcp_from_the_node(lab: Lab) -> None:
    vm = routed_lab(lab)
    # Ping (neighbour discovery included) to the node's addresses.
    for target in (f"{TAP_LINK_LOCAL}%eth0", NODE_IP, NODE_IP6):
        assert lab.ping(vm.name, target), target
    # A DHCP server on the node (here a small one, on the tap) and a DHCPv6 one.
    with dhcp_server(lab, lab.node, vm.tap, NODE_IP, 67):
        assert dhclient_lease(lab, vm) == OFFERED
    information_request = bytes(scapy.DHCP6_InfoRequest() / scapy.DHCP6OptClientId(duid=scapy.DUID_LL(
        lladdr=vm.mac)))
    assert udp_reaches_node(lab, vm, f"{TAP_LINK_LOCAL}%eth0", 547, information_request)
    lab.program("kvm-ifdown-custom", lab.ganeti_env(vm), vm.tap, "true")
    nothing_of_ours(lab, vm.tap)

