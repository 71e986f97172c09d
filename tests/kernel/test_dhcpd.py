"""snf-dhcpd against real clients: busybox udhcpc, ISC dhclient (-4, -6 -S), the kernel's SLAAC, rdisc6.

One lab and one daemon for the module (each test adds the VMs it needs):
the node routes table 100 to the upstream and has a bridge br0 (MTU 1400)
with an address of its own for bridged NICs. Everything runs in namespaces,
the daemon in the node's, its status file and bindings in the test's
directory.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from ipaddress import IPv6Network
from pathlib import Path

import pytest

from snf_network.dhcpd.binding import render
from snf_network.nic import eui64
from tests.dhcpd.daemon import Daemon, dhclient, udhcpc
from tests.kernel.two_nodes import nothing_left
from tests.lab import SUBNET6, Lab, Vm, can_run

pytestmark = pytest.mark.kernel

FLOOD = Path(__file__).parents[1] / "dhcpd" / "flood.py"
ROUTER_LL = "fe80::ce47:52ff:fe4e:4554"  # the tap's link-local: TAP_CONSTANT_MAC's EUI-64
CONFIG = "DHCP_NAMESERVERS=192.0.2.53\nDHCP_NAMESERVERS6=2001:db8:53::53\nDHCP_DOMAINS6='example.org lab.example'\n"


class Node:
    def __init__(self, lab: Lab, daemon: Daemon) -> None:
        self.lab, self.daemon = lab, daemon
        self.index = 0

    def extra(self, extra: str = "") -> str:
        return f"DHCPD_STATUS_FILE={self.daemon.status_path}\n{CONFIG}{extra}"

    def config(self, extra: str = "") -> None:
        self.lab.write_config(self.extra(extra))

    def reload(self, extra: str = "") -> None:
        """Write the configuration with ``extra``, SIGHUP, and wait until the daemon has read it.

        Waiting matters: a test that wrote the file again while the last reload
        was still reading would count that reload's "done" as its own."""
        self.config(extra)
        done = self.daemon.log().count("reload: done")
        self.daemon.signal(signal.SIGHUP)
        self.daemon.wait_for(lambda: self.daemon.log().count("reload: done") > done, "the reload")

    def restart(self) -> None:
        """A daemon for the next tests, whatever this one's did: one that did not stop is stopped first."""
        process = self.daemon.process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
            # Killed, it left its status file, and start() would take that for the new daemon's.
            self.daemon.status_path.unlink(missing_ok=True)
        self.daemon.start()

    def vm(self, mac: str = "", ip: str = "", **env: str) -> tuple[Vm, dict[str, str]]:
        """A new VM, its NIC brought up by kvm-vif-bridge with the nfdhcpd tag (routed unless ``env`` says)."""
        self.index += 1
        vm = self.lab.add_vm(self.index, mac or f"aa:00:00:00:10:{self.index:02x}")
        nic_env = self.lab.ganeti_env(vm, ip=ip or f"192.0.2.{10 + self.index}", **env)
        self.lab.program("kvm-vif-bridge", nic_env)
        return vm, nic_env


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    reason = can_run()
    if reason:
        pytest.skip(f"kernel tests skipped: {reason}")
    # Not under pytest's own (0700) directory: the daemon runs as nobody in one of these tests.
    workdir = Path(tempfile.mkdtemp(prefix="snf-dhcpd-test-"))
    workdir.chmod(0o755)
    lab = Lab(workdir)
    daemon = Daemon(lab)
    built = Node(lab, daemon)
    try:
        lab.build(extra_config=built.extra())
        lab.bridge("br0", "203.0.113.1/24")
        lab.ns(lab.node, "ip", "link", "set", "br0", "mtu", "1400")
        daemon.start()
        yield built
    finally:
        if daemon.process is not None and daemon.process.poll() is None:
            daemon.process.kill()
            daemon.process.wait()
        lab.close()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def routed(node: Node) -> Vm:
    vm, _ = node.vm(mac="aa:00:00:12:34:56", ip="192.0.2.10")
    return vm


def test_udhcpc_gets_the_binding(node: Node, routed: Vm) -> None:
    lease = udhcpc(node.lab, routed)
    assert lease is not None, node.daemon.log()
    assert lease["ip"] == "192.0.2.10" and lease["subnet"] == "255.255.255.0"
    assert lease["router"] == "192.0.2.1" and lease["dns"] == "192.0.2.53"
    assert lease["hostname"] == f"{routed.name}.example.org" and lease["domain"] == "example.org"
    assert lease["serverid"] == "192.0.2.1" and lease["lease"] == "604800"
    # MTU= in the binding: the routed uplink's (eth0 in the node, 1500).
    assert lease["mtu"] == "1500"
    assert "MTU=1500\n" in (node.lab.workdir / "nfdhcpd" / routed.tap).read_text()


def test_dhclient_gets_the_binding(node: Node, routed: Vm) -> None:
    lease = dhclient(node.lab, routed)
    assert lease is not None, node.daemon.log()
    assert lease["new_ip_address"] == "192.0.2.10" and lease["new_routers"] == "192.0.2.1"
    assert lease["new_domain_name_servers"] == "192.0.2.53"
    assert lease["new_host_name"] == f"{routed.name}.example.org"
    assert lease["new_subnet_mask"] == "255.255.255.0" and lease["new_interface_mtu"] == "1500"


def test_kernel_slaac_takes_the_eui64_address_and_the_taps_link_local_as_router(node: Node, routed: Vm) -> None:
    lab = node.lab
    lab.ns(routed.name, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_ra=1")
    # The link coming up makes the kernel solicit a router.
    lab.ns(routed.name, "ip", "link", "set", "eth0", "down")
    lab.ns(routed.name, "ip", "link", "set", "eth0", "up")

    def configured() -> bool:
        addresses = lab.ns(routed.name, "ip", "-6", "addr", "show", "dev", "eth0").stdout
        routes = lab.ns(routed.name, "ip", "-6", "route", "show", "default").stdout
        return "2001:db8:1:0:a800:ff:fe12:3456/64 scope global dynamic" in addresses and \
            f"via {ROUTER_LL} dev eth0 proto ra" in routes

    node.daemon.wait_for(configured, "SLAAC in the VM")
    # The VM reaches the upstream's address in its own /64 through the tap: snf-dhcpd's NA answered for it.
    assert lab.ping(routed.name, "2001:db8:1::1")
    neighbour = lab.ns(routed.name, "ip", "-6", "neigh", "show", "2001:db8:1::1").stdout
    assert "lladdr cc:47:52:4e:45:54" in neighbour


def test_rdisc6_sees_rdnss_dnssl_mtu_and_the_prefix(node: Node, routed: Vm) -> None:
    result = node.lab.ns(routed.name, "rdisc6", "-1", "-r", "3", "-w", "1000", "eth0", check=False)
    assert result.returncode == 0, node.daemon.log()
    out = result.stdout
    assert "Recursive DNS server     : 2001:db8:53::53" in out
    assert "DNS search list          : example.org lab.example" in out
    assert "MTU                      :         1500" in out
    assert "Prefix                   : 2001:db8:1::1/64" in out and f"from {ROUTER_LL}" in out
    assert "Stateful other conf.      :          Yes" in out


def test_dhclient6_information_request_gets_dns_and_search_list(node: Node, routed: Vm) -> None:
    reply = dhclient(node.lab, routed, "-6", "-S", reason="RENEW6")
    assert reply is not None, node.daemon.log()
    assert reply["new_dhcp6_name_servers"] == "2001:db8:53::53"
    assert reply["new_dhcp6_domain_search"] == "example.org. lab.example."


def test_a_stable_privacy_guest_gets_its_router_advertisement(node: Node) -> None:
    lab = node.lab
    vm, _ = node.vm()
    lab.ns(vm.name, "sysctl", "-qw", "net.ipv6.conf.eth0.stable_secret=2001:db8::5ec:5ec")
    lab.ns(vm.name, "ip", "link", "set", "eth0", "addrgenmode", "stable_secret")
    lab.ns(vm.name, "ip", "link", "set", "eth0", "down")
    lab.ns(vm.name, "ip", "link", "set", "eth0", "up")
    link_local = lab.ns(vm.name, "ip", "-6", "addr", "show", "dev", "eth0", "scope", "link").stdout
    assert "inet6 fe80::" in link_local and "ff:fe00:10" not in link_local  # not the EUI-64 of its MAC
    result = lab.ns(vm.name, "rdisc6", "-1", "-r", "3", "-w", "1000", "eth0", check=False)
    assert result.returncode == 0 and "Prefix                   : 2001:db8:1::1/64" in result.stdout, \
        node.daemon.log()


def test_a_spoofed_hardware_address_gets_no_answer(node: Node) -> None:
    lab = node.lab
    vm, _ = node.vm()
    assert udhcpc(lab, vm) is not None
    lab.ns(vm.name, "ip", "link", "set", "eth0", "address", "aa:00:00:00:66:66")
    assert udhcpc(lab, vm, tries=2) is None
    assert lab.ns(vm.name, "rdisc6", "-1", "-r", "2", "-w", "300", "eth0", check=False).returncode != 0
    ignored = f"{vm.tap}: request ignored: hardware address aa:00:00:00:66:66 is not the binding's"
    node.daemon.wait_for(lambda: ignored in node.daemon.log(), "the ignored request's log line")


def test_a_nic_brought_up_live_is_served_and_after_ifdown_nothing_answers(node: Node) -> None:
    lab = node.lab
    vm, env = node.vm()
    # At once: udhcpc's first DISCOVER (one try, a second's wait) is answered.
    assert udhcpc(lab, vm, tries=1) is not None
    node.daemon.wait_for(lambda: node.daemon.served_now(vm.tap), "the status file", seconds=1.0)
    lab.program("kvm-ifdown-custom", env, vm.tap, "true")
    node.daemon.wait_for(lambda: not node.daemon.served(vm.tap), "the binding to go")
    assert udhcpc(lab, vm, tries=2) is None
    assert f"{vm.tap}: binding removed" in node.daemon.log()


def test_a_binding_written_before_its_tap_is_served_when_the_tap_appears(node: Node) -> None:
    lab = node.lab
    node.index += 1
    index, mac = node.index, f"aa:00:00:00:10:{node.index:02x}"
    tap = f"tap{index}"
    binding = lab.workdir / "nfdhcpd" / tap
    binding.write_text(render({"INDEV": tap, "IP": "192.0.2.99", "MAC": mac, "HOSTNAME": "early.example.org",
                               "SUBNET": "192.0.2.0/24", "GATEWAY": "192.0.2.1"}))
    moved = lab.workdir / f"{tap}.saved"
    try:
        node.daemon.wait_for(lambda: f"{tap}: not served: its interface does not exist" in node.daemon.status(),
                             "the binding to be seen")
        vm = lab.add_vm(index, mac)
        lab.ns(lab.node, "ip", "link", "set", tap, "up")
        node.daemon.wait_for(lambda: node.daemon.served_now(tap), "the tap to be served", seconds=1.0)
        lease = udhcpc(lab, vm, tries=1)
        assert lease is not None and lease["ip"] == "192.0.2.99" and lease["hostname"] == "early.example.org"
        # Renamed away (nfdhcpd missed this): no longer served; renamed into place: served again.
        binding.rename(moved)
        node.daemon.wait_for(lambda: tap not in node.daemon.status(), "the renamed binding to go")
        assert udhcpc(lab, vm, tries=1) is None
        moved.rename(binding)
        node.daemon.wait_for(lambda: node.daemon.served(tap), "the renamed binding to come back")
        assert udhcpc(lab, vm, tries=1) is not None
    finally:  # a binding left behind would be served for the rest of the module
        binding.unlink(missing_ok=True)
        moved.unlink(missing_ok=True)


def test_a_binding_naming_the_uplink_or_a_bridge_is_not_served_there(node: Node) -> None:
    # A stray or hand-written binding file named after the node's uplink (or a
    # bridge) must not make the daemon a router on it: with a socket on eth0 it
    # sent router advertisements to the whole upstream network.
    lab = node.lab
    mac = lab.ns(lab.upstream, "cat", "/sys/class/net/up0/address").stdout.strip()
    # An overlay's VXLAN device on the uplink, with no address (as a bridged network's bridge port is;
    # a VLAN of eth0 would do too, but this kernel has no 8021q).
    lab.ns(lab.node, "ip", "link", "add", "vx7", "type", "vxlan", "id", "7", "dstport", "4789", "dev", "eth0")
    lab.ns(lab.node, "ip", "link", "set", "vx7", "up")
    try:
        for name, peer_ns, peer in (("eth0", lab.upstream, "up0"), ("br0", "", ""), ("vx7", "", "")):
            # Wide enough to hold the moment the daemon reads the binding (after a Python start or two).
            sniffer = lab.sniff(peer_ns, peer, seconds=3.0) if peer_ns else None
            binding = lab.workdir / "nfdhcpd" / name
            binding.write_text(render({"IP": "192.0.2.77", "MAC": mac, "HOSTNAME": "stray.example.org",
                                       "SUBNET": "192.0.2.0/24", "GATEWAY": "192.0.2.1",
                                       "SUBNET6": "2001:db8:1::/64", "GATEWAY6": "2001:db8:1::1"}))
            try:
                node.daemon.wait_for(lambda seen=f"{name}: ": seen in node.daemon.status(), "the binding to be seen")
                if sniffer is not None:
                    advertisements = [frame for frame in sniffer.frames() if frame[12:14] == b"\x86\xdd"
                                      and frame[20] == 58 and frame[54] == 134]
                    assert advertisements == [], "router advertisements on the node's uplink"
                assert f"{name}: not served: a node interface, not a NIC's" in node.daemon.status(), \
                    node.daemon.status()
            finally:
                binding.unlink()
    finally:
        lab.ns(lab.node, "ip", "link", "del", "vx7", check=False)
    node.daemon.wait_for(lambda: "eth0" not in node.daemon.status(), "the bindings to go")
    assert "vx7: a node interface, not a NIC's: its kind is vxlan, never a NIC's" in node.daemon.log()


def test_binding_files_no_interface_could_be_named_are_skipped(node: Node, routed: Vm) -> None:
    # A name that is not UTF-8, or holds a newline: skipped, at inotify time and at a reload's rescan.
    directory = bytes(node.lab.workdir / "nfdhcpd")
    names = [b"tap\xff", b"tap1\nforged: line"]
    for name in names:
        with open(directory + b"/" + name, "w") as handle:
            handle.write("MAC=aa:00:00:12:34:56\nHOSTNAME=x\n")
    try:
        done = node.daemon.log().count("reload: done")
        node.daemon.signal(signal.SIGHUP)
        node.daemon.wait_for(lambda: node.daemon.log().count("reload: done") > done, "the reload")
        assert node.daemon.process is not None and node.daemon.process.poll() is None
        assert "forged" not in node.daemon.log() and node.daemon.served(routed.tap)
    finally:
        for name in names:
            os.unlink(directory + b"/" + name)


def malformed_frames(templates: list[bytes], seed: int = 10) -> list[bytes]:
    """Every truncation of each template, and random corruptions of it."""
    rng = random.Random(seed)
    frames = []
    for template in templates:
        frames += [template[:cut] for cut in range(14, len(template))]
        for _ in range(300):
            frame = bytearray(template)
            for _ in range(rng.randint(1, 8)):
                frame[rng.randrange(14, len(frame))] = rng.randrange(256)
            frames.append(bytes(frame))
    return frames


def test_a_flood_of_malformed_packets_does_not_stop_the_daemon(node: Node) -> None:
    from tests.unit.dhcpd_frames import requests

    lab = node.lab
    vm, _ = node.vm()
    mac = bytes.fromhex(vm.mac.replace(":", ""))
    frames = malformed_frames(list(requests(mac).values()))
    for start in range(0, len(frames), 500):  # the command line has a limit
        lab.send_frames(vm.name, "eth0", frames[start : start + 500])
    assert node.daemon.process is not None and node.daemon.process.poll() is None
    lease = udhcpc(lab, vm, tries=4)  # perhaps after a second's pause for the flood
    assert lease is not None, node.daemon.log()[-2000:]
    assert "request ignored: malformed" in node.daemon.log()
    # Thousands of bad frames, a few lines: the log is limited per NIC.
    lines = [line for line in node.daemon.log().splitlines() if f": {vm.tap}: " in line]
    assert len(lines) <= 20, lines[-5:]


def test_vlan_tagged_requests_are_not_answered_untagged(node: Node) -> None:
    # The kernel strips a VLAN tag before a packet socket sees the frame: a
    # guest's request on its VLAN 7 sub-interface looked like one on the NIC
    # itself, and got the NIC's lease (untagged, on the wrong network).
    from tests.unit.dhcpd_frames import dhcp

    lab = node.lab
    vm, _ = node.vm()
    node.daemon.wait_for(lambda: node.daemon.served(vm.tap), "the NIC to be served")
    mac = bytes.fromhex(vm.mac.replace(":", ""))
    untagged = dhcp(mac, "discover")
    tagged = untagged[:12] + b"\x81\x00\x00\x07" + untagged[12:]

    def offers(frame: bytes) -> list[bytes]:
        # The window opens before send_frames starts Python in the VM: on a loaded machine that
        # alone can take most of a second, and the answer would fall outside a 1 s window (and
        # the tagged case would pass without its request ever being sent).
        sniffer = lab.sniff(vm.name, "eth0", seconds=3.0)
        lab.send_frames(vm.name, "eth0", [frame])
        return [got for got in sniffer.frames() if got[12:14] == b"\x08\x00" and got[23] == 17
                and got[34:36] == b"\x00\x43"]

    assert offers(tagged) == []
    assert len(offers(untagged)) == 1  # the same request without its tag is answered


def test_a_guest_flooding_valid_requests_is_paused_and_the_others_are_served(node: Node, routed: Vm) -> None:
    from tests.unit.dhcpd_frames import dhcp

    lab = node.lab
    noisy, _ = node.vm()
    discover = dhcp(bytes.fromhex(noisy.mac.replace(":", "")), "discover").hex()
    flood = subprocess.Popen(["ip", "netns", "exec", noisy.name, sys.executable, str(FLOOD), "eth0", discover,
                              "200000"])
    try:
        lease = udhcpc(lab, routed)  # another NIC, during the flood
        assert lease is not None and lease["ip"] == "192.0.2.10"
        node.daemon.wait_for(lambda: f"{noisy.tap}: more than 1000 requests in a second" in node.daemon.log(),
                             "the noisy NIC to be paused", seconds=10)
    finally:
        flood.kill()
        flood.wait()
    assert node.daemon.process is not None and node.daemon.process.poll() is None
    assert udhcpc(lab, noisy, tries=4) is not None  # once quiet, it is served again


def test_bridged_nics_get_dhcp_with_the_bridges_mtu_and_no_ipv6_answers(node: Node) -> None:
    lab = node.lab
    vm, _ = node.vm(ip="203.0.113.10", mode="bridged", link="br0", tags="nfdhcpd",
                    NETWORK_SUBNET="203.0.113.0/24", NETWORK_GATEWAY="203.0.113.1",
                    NETWORK_SUBNET6="2001:db8:2::/64", NETWORK_GATEWAY6="2001:db8:2::1")
    lab.ns(vm.name, "ip", "link", "set", "eth0", "mtu", "1400")
    text = (lab.workdir / "nfdhcpd" / vm.tap).read_text()
    assert "INDEV=br0\n" in text and "MTU=1400\n" in text
    lease = udhcpc(lab, vm)
    assert lease is not None, node.daemon.log()
    assert lease["ip"] == "203.0.113.10" and lease["router"] == "203.0.113.1" and lease["mtu"] == "1400"
    assert lease["serverid"] == "203.0.113.1"
    lease = dhclient(lab, vm)
    assert lease is not None and lease["new_ip_address"] == "203.0.113.10"
    # The bridge's own router advertises there, not the node.
    assert lab.ns(vm.name, "rdisc6", "-1", "-r", "2", "-w", "300", "eth0", check=False).returncode != 0
    chain = lab.ns(lab.node, "nft", "list", "chain", "bridge", "snf", "nfdhcpd").stdout
    assert "udp dport 67 drop" in chain


def test_snf_network_status_says_which_nics_are_served(node: Node, routed: Vm) -> None:
    env = {"PATH": os.environ["PATH"], "SNF_NETWORK_CONFIG": str(node.lab.config_path)}
    out = node.lab.program("snf-network", env, "status").stdout
    assert f"{routed.tap}: " in out and "dhcp: served by snf-dhcpd" in out, out
    assert node.daemon.status().startswith(f"{routed.tap}: served aa:00:00:12:34:56") or \
        f"{routed.tap}: served aa:00:00:12:34:56" in node.daemon.status()


def test_sigusr1_dumps_the_table_to_the_log(node: Node, routed: Vm) -> None:
    node.daemon.signal(signal.SIGUSR1)
    node.daemon.wait_for(lambda: f"{routed.tap}: served aa:00:00:12:34:56" in node.daemon.log(), "the dump")


def test_a_second_daemon_refuses_to_start_beside_the_first(node: Node, routed: Vm) -> None:
    # Started by hand while systemd's runs, both would answer every request, and
    # the second's exit would delete the first's status file.
    env = {"PATH": os.environ["PATH"], "SNF_NETWORK_CONFIG": str(node.lab.config_path)}
    second = subprocess.run(["ip", "netns", "exec", node.lab.node, "timeout", "5",
                             str(node.lab.program_path("snf-dhcpd")), "--foreground"],
                            env=env, capture_output=True, text=True, check=False)
    assert second.returncode == 1 and "another snf-dhcpd" in second.stderr, second
    assert node.daemon.served(routed.tap)


def test_sighup_reloads_the_configuration(node: Node, routed: Vm) -> None:
    try:
        node.reload("DHCP_NAMESERVERS='192.0.2.54 192.0.2.55'\n")
        lease = udhcpc(node.lab, routed)
        assert lease is not None and lease["dns"] == "192.0.2.54 192.0.2.55"
    finally:
        node.reload()


def test_router_advertisements_come_unsolicited_every_ra_period(node: Node, routed: Vm) -> None:
    # The advertisement a reload sends is not the periodic one, and it may come up to a second
    # after the reload (at most one a second: the previous test's reload sent one just now). A
    # fixed pause after the reload could not tell them apart; the frames' times can: the
    # periodic one is RA_PERIOD (4 s) after the reload, the reload's own within about a second.
    try:
        sniffer = node.lab.sniff(routed.name, "eth0", seconds=8, stamped=True)
        node.reload("RA_PERIOD=4\n")
        reloaded = time.monotonic()
        frames = sniffer.stamped_frames()
        after = [round(stamp - reloaded, 2) for stamp, frame in frames if frame[12:14] == b"\x86\xdd"
                 and frame[20] == 58 and frame[54] == 134 and frame[38:54] == bytes.fromhex("ff02" + "00" * 13 + "01")]
        assert [delay for delay in after if delay > 2.5], \
            f"no RA to all nodes 2.5 to ~8 s after a reload with RA_PERIOD=4 (RAs at {after} s; {len(frames)} frames)"
    finally:
        node.reload()


def test_a_storm_of_sighups_is_not_a_storm_of_router_advertisements(node: Node, routed: Vm) -> None:
    sniffer = node.lab.sniff(routed.name, "eth0", seconds=2.0)
    for _ in range(30):
        node.daemon.signal(signal.SIGHUP)
        time.sleep(0.02)
    advertisements = [frame for frame in sniffer.frames() if frame[12:14] == b"\x86\xdd" and frame[20] == 58
                      and frame[54] == 134 and frame[38:54] == bytes.fromhex("ff02" + "00" * 13 + "01")]
    assert 1 <= len(advertisements) <= 3, f"{len(advertisements)} RAs for 30 SIGHUPs in 0.6 s"
    assert node.daemon.process is not None and node.daemon.process.poll() is None
    assert udhcpc(node.lab, routed, tries=2) is not None


def test_sigterm_stops_promptly_and_a_restart_serves_existing_bindings_at_once(node: Node, routed: Vm) -> None:
    took = node.daemon.stop()
    print(f"snf-dhcpd stopped {took * 1000:.0f} ms after SIGTERM")
    assert not node.daemon.status_path.exists()
    env = {"PATH": os.environ["PATH"], "SNF_NETWORK_CONFIG": str(node.lab.config_path)}
    assert "dhcp: snf-dhcpd is not running" in node.lab.program("snf-network", env, "status").stdout
    assert udhcpc(node.lab, routed, tries=1) is None  # the nft rule drops it; nobody answers
    # Restarted the way snf-dhcpd.service runs it: an unprivileged user with CAP_NET_RAW alone.
    (node.lab.workdir / "run").chmod(0o755)
    os.chown(node.lab.workdir / "run", 65534, 65534)
    node.daemon.start(unprivileged=True)
    assert node.daemon.capabilities() == (65534, 1 << 13)  # CAP_NET_RAW
    assert node.daemon.served(routed.tap)
    assert udhcpc(node.lab, routed, tries=1) is not None
    assert dhclient(node.lab, routed, "-6", "-S", reason="RENEW6") is not None


def test_nothing_of_ours_is_left_after_ifdown(node: Node) -> None:
    lab = node.lab
    vm, env = node.vm()
    node.daemon.wait_for(lambda: node.daemon.served_now(vm.tap), "the status file", seconds=1.0)
    lab.program("kvm-ifdown-custom", env, vm.tap, "true")
    # No binding, rule, route, nft element or record; other VMs' proxy entries stay.
    nothing_left(lab, vm.tap, address6=str(eui64(vm.mac, IPv6Network(SUBNET6))))
    node.daemon.wait_for(lambda: vm.tap not in node.daemon.status(), "the binding to go")


def test_switching_dhcp_server_to_nfdhcpd_stops_it(node: Node) -> None:
    node.config("DHCP_SERVER=nfdhcpd\n")
    try:
        node.daemon.signal(signal.SIGHUP)
        assert node.daemon.process is not None and node.daemon.process.wait(timeout=10) == 0
        assert "DHCP_SERVER is nfdhcpd now: stopping" in node.daemon.log()
    finally:
        node.config()
        node.restart()


def test_a_binding_directory_anyone_can_write_stops_it(node: Node, routed: Vm) -> None:
    # Whoever writes a binding decides which VM gets which address: a careless
    # chmod must not leave the daemon serving whatever a local user puts there.
    directory = node.lab.workdir / "nfdhcpd"
    directory.chmod(0o777)
    try:
        node.daemon.signal(signal.SIGHUP)
        assert node.daemon.process is not None and node.daemon.process.wait(timeout=10) == 1
        assert "nfdhcpd is writable by everyone: its bindings cannot be trusted" in node.daemon.log()
    finally:
        directory.chmod(0o755)
        node.restart()
    assert node.daemon.served(routed.tap)


def test_losing_the_binding_directory_stops_it_with_an_error_for_systemd_to_restart(node: Node) -> None:
    # Last in the module: the daemon does not come back.
    directory = node.lab.workdir / "nfdhcpd"
    directory.rename(node.lab.workdir / "nfdhcpd.moved")
    assert node.daemon.process is not None
    assert node.daemon.process.wait(timeout=10) == 1
    assert "stopped by an error: " in node.daemon.log() and "nfdhcpd was removed or moved" in node.daemon.log()
