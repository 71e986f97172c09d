"""Instance communication NICs (gnt.com.N) end to end: our programs, a real dnsmasq, real DHCP clients.

One node with ``snf-network communication serve`` running (its dnsmasq in
the node's namespace, its files in a temporary directory), an HTTP server at
169.254.169.254:80 (the metadata daemon's place), and two guests behind
gnt.com.0 and gnt.com.1 that get their addresses from dnsmasq with udhcpc.
The tests of this module share them, in order (each leaves both guests up).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import ganeti_ifup_os
from tests.lab import VENV_BIN, Lab, Vm, can_run, sh

pytestmark = pytest.mark.kernel

SERVICE = "169.254.169.254"
GUESTS = {1: ("52:54:00:00:00:02", "169.254.0.2"), 2: ("52:54:00:00:00:03", "169.254.0.3")}
UDHCPC_SCRIPT = """#!/bin/sh
# What the DHCP client was told, for the test to read.
[ "$1" = bound ] && echo "ip=$ip mask=$mask router=$router dns=$dns serverid=$serverid" > "$LEASE_FILE"
exit 0
"""


class Node:
    """The lab, the serve process and the paths the tests read."""

    def __init__(self, lab: Lab, directory: Path, serve: subprocess.Popen[str]) -> None:
        self.lab, self.directory, self.serve = lab, directory, serve
        self.guests: dict[int, Vm] = {}

    @property
    def hosts(self) -> list[str]:
        return [line for line in (self.directory / "hosts").read_text().splitlines() if not line.startswith("#")]

    def dnsmasq_pid(self) -> int:
        text = (self.directory / "dnsmasq.pid").read_text().strip()
        assert Path(f"/proc/{text}/comm").read_text().strip() == "dnsmasq"
        return int(text)

    def env(self, vm: Vm, ip: str, **extra: str) -> dict[str, str]:
        """Ganeti 3.2's environment for a communication NIC (reference section 5): routed, no gateway."""
        env = self.lab.ganeti_env(vm, ip=ip, link="communication_rt", tags="",
                                  INTERFACE_NAME=f"ganeti:communication:{vm.name}.example.org",
                                  NETWORK_NAME="ganeti-communication", NETWORK_SUBNET="169.254.0.0/16",
                                  NETWORK_GATEWAY="", NETWORK_SUBNET6="fe80::/10", NETWORK_GATEWAY6="",
                                  NETWORK_MAC_PREFIX="52:54:00", INTERFACE_INDEX="1")
        return {key: value for key, value in {**env, **extra}.items() if value}

    def up(self, vm: Vm, ip: str, action: bool = True) -> None:
        result = self.lab.program("kvm-vif-bridge", {**self.env(vm, ip), **({"ACTION": "up"} if action else {})})
        assert (result.returncode, result.stderr) == (0, ""), result.stderr

    def down(self, vm: Vm, ip: str) -> None:
        result = self.lab.program("kvm-vif-bridge", {**self.env(vm, ip), "ACTION": "down"})
        assert (result.returncode, result.stderr) == (0, ""), result.stderr

    def dhcp(self, vm: Vm) -> str:
        """Run udhcpc in the guest: what it was told ('' when nobody answered)."""
        lease = self.lab.workdir / f"lease-{vm.name}"
        lease.unlink(missing_ok=True)
        script = self.lab.workdir / "udhcpc.script"
        self.last = subprocess.run(["ip", "netns", "exec", vm.name, "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "3",
                        "-T", "1", "-A", "1", "-s", str(script)], env={**os.environ, "LEASE_FILE": str(lease)},
                       capture_output=True, text=True, timeout=30, check=False)
        return lease.read_text().strip() if lease.exists() else ""

    def configure(self, vm: Vm) -> None:
        """Ask DHCP, and configure what it said, as the guest's client would."""
        told = self.dhcp(vm)
        assert told.startswith(f"ip={vm.ip} mask=16 "), (told, self.last)
        self.lab.ns(vm.name, "ip", "addr", "flush", "dev", "eth0", "scope", "global")
        self.lab.ns(vm.name, "ip", "addr", "add", f"{vm.ip}/16", "dev", "eth0")

    def fetch(self, vm: Vm | str, url: str) -> str:
        """What a GET of ``url`` from the guest (or namespace) returns ('' when it fails)."""
        code = f"import urllib.request; print(urllib.request.urlopen({url!r}, timeout=3).read().decode())"
        result = self.lab.ns(vm if isinstance(vm, str) else vm.name, "python3", "-c", code, check=False)
        return result.stdout.strip() if result.returncode == 0 else ""


def _wait(predicate: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _start_serve(lab: Lab, directory: Path) -> subprocess.Popen[str]:
    env = {"PATH": os.environ["PATH"], "SNF_NETWORK_CONFIG": str(lab.config_path)}
    serve = subprocess.Popen(["ip", "netns", "exec", lab.node, str(VENV_BIN / "snf-network"), "communication",
                              "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait(lambda: (directory / "dnsmasq.pid").exists(), "dnsmasq's pid file")
    _wait(lambda: Path(f"/proc/{(directory / 'dnsmasq.pid').read_text().strip()}/comm").exists(), "dnsmasq")
    return serve


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    reason = can_run()
    if reason:
        pytest.skip(f"kernel tests skipped: {reason}")
    for program in ("dnsmasq", "udhcpc"):
        if shutil.which(program) is None:
            pytest.skip(f"{program} is not installed (tools/setup.sh installs it)")
    workdir = tmp_path_factory.mktemp("communication")
    # dnsmasq reads the hosts file as nobody: its directory must be reachable,
    # and pytest's are root's alone.
    directory = Path(tempfile.mkdtemp(prefix="snf-communication-"))
    directory.chmod(0o755)
    (workdir / "udhcpc.script").write_text(UDHCPC_SCRIPT)
    (workdir / "udhcpc.script").chmod(0o755)
    (workdir / "www").mkdir()
    (workdir / "www" / "meta_data.json").write_text('{"instance": "yes"}\n')
    lab = Lab(workdir)
    serve = web = None
    state: Node | None = None
    try:
        lab.build(extra_config=f"COMMUNICATION_DIR={directory}\n")
        serve = _start_serve(lab, directory)
        state = Node(lab, directory, serve)
        for index, (mac, ip) in GUESTS.items():
            vm = lab.add_vm(index, mac, tap=f"gnt.com.{index - 1}")
            vm.ip = ip
            state.guests[index] = vm
            state.up(vm, ip)
        # The metadata daemon's place: listening on the taps' address (it is on each of them).
        web = subprocess.Popen(["ip", "netns", "exec", lab.node, "python3", "-m", "http.server", "80", "--bind",
                                SERVICE, "--directory", str(workdir / "www")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        probe = f"import socket; socket.create_connection(('{SERVICE}', 80), 1)"
        _wait(lambda: lab.ns(lab.node, "python3", "-c", probe, check=False).returncode == 0, "the HTTP server")
        for vm in state.guests.values():
            state.configure(vm)
        yield state
    finally:
        if state is not None:
            serve = state.serve  # a test may have started it again
        for process in (web, serve):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if serve is not None and serve.stderr is not None:
            serve.stderr.close()
        lab.close()
        shutil.rmtree(directory, ignore_errors=True)


def test_each_guest_gets_its_own_address_and_the_metadata(node: Node) -> None:
    one, two = node.guests[1], node.guests[2]
    # Asked again: the same address, and no default route or DNS server over this NIC.
    assert node.dhcp(one) == f"ip={one.ip} mask=16 router= dns= serverid={SERVICE}"
    assert node.dhcp(two).startswith(f"ip={two.ip} mask=16 router= dns= ")
    assert sorted(node.hosts) == [f"{one.mac},{one.ip}", f"{two.mac},{two.ip}"]
    for vm in (one, two):
        assert node.fetch(vm, f"http://{SERVICE}/meta_data.json") == '{"instance": "yes"}'
        assert node.lab.ping(vm.name, SERVICE, count=1)
    # The node side is Ganeti's: the address on the tap, the /32 in main.
    lab = node.lab
    assert f"inet {SERVICE}/32 scope global gnt.com.0" in lab.ns(lab.node, "ip", "-o", "addr", "show",
                                                                 "gnt.com.0").stdout
    assert f"{one.ip} dev gnt.com.0 proto static" in lab.ns(lab.node, "ip", "route", "show").stdout
    if shutil.which("ethtool"):  # as Ganeti's script does: ethtool -K tx off
        assert "tx-checksumming: off" in lab.ns(lab.node, "ethtool", "-k", "gnt.com.0").stdout


def test_a_guest_reaches_nothing_else(node: Node) -> None:
    lab, one, two = node.lab, node.guests[1], node.guests[2]
    # Routes colluding guests could add themselves, through the node: to each
    # other, to the node's uplink address and beyond it; and the upstream
    # router's way back to them.
    for destination in (f"{two.ip}/32", "198.51.100.0/24"):
        lab.ns(one.name, "ip", "route", "replace", destination, "via", SERVICE)
    lab.ns(two.name, "ip", "route", "replace", f"{one.ip}/32", "via", SERVICE)
    lab.ns(lab.upstream, "ip", "route", "replace", "169.254.0.0/16", "via", "198.51.100.2")
    try:
        with lab.serving(two.name, 80), lab.serving(lab.node, 8080):
            assert lab.connects(lab.node, "127.0.0.1", 8080)  # the servers are there
            assert lab.connects(lab.node, two.ip, 80)  # the node itself may talk to a guest
            assert not lab.ping(one.name, two.ip, count=1)
            assert not lab.connects(one.name, two.ip, 80)
            assert not lab.connects(one.name, SERVICE, 8080)  # not a listed port
            assert not lab.connects(one.name, "198.51.100.2", 8080)
            assert not lab.ping(one.name, "198.51.100.2", count=1)
            assert not lab.ping(one.name, "198.51.100.1", count=1)
            assert lab.ping(lab.upstream, "198.51.100.2", count=1)
            assert not lab.ping(lab.upstream, one.ip, count=1)
    finally:
        for destination in (f"{two.ip}/32", "198.51.100.0/24"):
            lab.ns(one.name, "ip", "route", "del", destination, check=False)
        lab.ns(two.name, "ip", "route", "del", f"{one.ip}/32", check=False)
        lab.ns(lab.upstream, "ip", "route", "del", "169.254.0.0/16", check=False)
    # As another guest's address, or another of its own, it is not heard either.
    lab.ns(one.name, "ip", "addr", "add", "169.254.0.9/16", "dev", "eth0")
    try:
        assert not lab.ping(one.name, SERVICE, source="169.254.0.9", count=1)
    finally:
        lab.ns(one.name, "ip", "addr", "del", "169.254.0.9/16", "dev", "eth0")
    assert lab.ping(one.name, SERVICE, count=1)


def test_the_service_address_is_reached_only_from_the_taps(node: Node) -> None:
    """169.254.169.254 is on the node: whatever is routed to it must not reach the metadata daemon."""
    lab, one = node.lab, node.guests[1]
    lab.ns(lab.upstream, "ip", "route", "replace", f"{SERVICE}/32", "via", "198.51.100.2")
    try:
        assert node.fetch(lab.upstream, f"http://{SERVICE}/meta_data.json") == ""
        assert not lab.ping(lab.upstream, SERVICE, count=1)
    finally:
        lab.ns(lab.upstream, "ip", "route", "del", f"{SERVICE}/32", check=False)
    assert node.fetch(lab.node, f"http://{SERVICE}/meta_data.json")  # the node's own (lo)
    assert node.fetch(one, f"http://{SERVICE}/meta_data.json")


def test_the_node_tells_a_guest_nothing_of_its_routing(node: Node) -> None:
    """No ICMP error (time exceeded, unreachable) for what a guest sends beyond the node: it would map the node."""
    lab, one = node.lab, node.guests[1]
    node_ll = lab.ns(lab.node, "ip", "-6", "-o", "addr", "show", "dev", one.tap, "scope", "link").stdout.split()[3]
    lab.ns(one.name, "ip", "route", "replace", "198.51.100.0/24", "via", SERVICE)
    lab.ns(one.name, "ip", "-6", "route", "replace", "2001:db8::/32", "via", node_ll.split("/")[0], "dev", "eth0")
    try:
        capture = lab.capture(one.name, "eth0", "(icmp and (icmp[0] == 11 or icmp[0] == 3)) or "
                                                "(icmp6 and (ip6[40] == 3 or ip6[40] == 1))")
        for address in ("198.51.100.1", "2001:db8:ff::1"):
            for ttl in ("1", "64"):  # time exceeded; unreachable (a hop further: no route, or filtered)
                lab.ns(one.name, "ping", "-c", "1", "-W", "0.3", "-t", ttl, address, check=False)
        assert capture.result().strip() == ""
    finally:
        lab.ns(one.name, "ip", "route", "del", "198.51.100.0/24", check=False)
        lab.ns(one.name, "ip", "-6", "route", "del", "2001:db8::/32", check=False)
    assert node.fetch(one, f"http://{SERVICE}/meta_data.json")


def test_a_guest_asks_dhcp_only_for_its_own_mac(node: Node) -> None:
    scapy = pytest.importorskip("scapy.all", reason="scapy is not installed (tools/setup.sh installs python3-scapy)")
    lab, one, two = node.lab, node.guests[1], node.guests[2]

    def answered(chaddr: str) -> bool:
        frame = (scapy.Ether(src=one.mac, dst="ff:ff:ff:ff:ff:ff") / scapy.IP(src="0.0.0.0", dst="255.255.255.255")
                 / scapy.UDP(sport=68, dport=67)
                 / scapy.BOOTP(op=1, xid=0x5e5e, chaddr=bytes.fromhex(chaddr.replace(":", "")) + bytes(10))
                 / scapy.DHCP(options=[("message-type", "discover"), "end"]))
        capture = lab.capture(lab.node, one.tap, "udp src port 67")
        lab.send_frames(one.name, "eth0", [bytes(frame)])
        return "BOOTP/DHCP, Reply" in capture.result()

    assert answered(one.mac)
    # dnsmasq answers by the hardware address inside the message: another
    # guest's would be told that guest's address.
    assert not answered(two.mac)


def test_a_guest_cannot_have_dnsmasq_relay_to_another(node: Node) -> None:
    """A request that looks relayed (giaddr set, or from the relay port 67) is dropped at the tap.

    dnsmasq answers a relayed request at giaddr:67: with another guest's
    address there, it would send that guest a packet whose xid and option
    82 the first one chose, out of the other tap.
    """
    scapy = pytest.importorskip("scapy.all", reason="scapy is not installed (tools/setup.sh installs python3-scapy)")
    lab, one, two = node.lab, node.guests[1], node.guests[2]

    cases = {0x6e01: (68, "0.0.0.0"), 0x6e02: (67, two.ip), 0x6e03: (68, two.ip), 0x6e04: (67, "0.0.0.0")}
    frames = [bytes(scapy.Ether(src=one.mac, dst="ff:ff:ff:ff:ff:ff") / scapy.IP(src=one.ip, dst="255.255.255.255")
                    / scapy.UDP(sport=sport, dport=67)
                    / scapy.BOOTP(op=1, xid=xid, giaddr=giaddr,
                                  chaddr=bytes.fromhex(one.mac.replace(":", "")) + bytes(10))
                    / scapy.DHCP(options=[("message-type", "discover"), ("relay_agent_information", b"\x01\x03abc"),
                                          "end"]))
              for xid, (sport, giaddr) in cases.items()]
    # Two sniffers' starts, then the sender's, then dnsmasq's answer: room for a loaded machine (Lab.sniff).
    at_two, at_one = lab.sniff(lab.node, two.tap, seconds=4), lab.sniff(lab.node, one.tap, seconds=4)
    lab.send_frames(one.name, "eth0", frames)

    def replies(frames: list[bytes]) -> list[int]:
        """The xids of the BOOTREPLYs the node sent out of a tap."""
        packets = [scapy.Ether(frame) for frame in frames]
        return [packet[scapy.BOOTP].xid for packet in packets if scapy.BOOTP in packet and packet[scapy.BOOTP].op == 2]

    # An ordinary request is answered, to its sender; none that looks relayed, anywhere.
    assert (replies(at_one.frames()), replies(at_two.frames())) == ([0x6e01], [])


def test_twenty_nics_come_and_go_without_restarting_dnsmasq(node: Node) -> None:
    lab = node.lab
    pid = node.dnsmasq_pid()
    before = sorted(node.hosts)
    extra = []
    for index in range(20):
        tap = f"gnt.com.{index + 2}"
        lab.ns(lab.node, "ip", "link", "add", tap, "type", "veth", "peer", "name", f"gcpeer{index}")
        extra.append(Vm(name=lab.node, tap=tap, mac=f"52:54:00:00:01:{index:02x}", ip=f"169.254.1.{index + 1}"))
    try:
        for vm in extra:
            node.up(vm, vm.ip)
        assert len(node.hosts) == 22
        for vm in extra:
            node.down(vm, vm.ip)
            assert f"{vm.mac},{vm.ip}" not in node.hosts
    finally:
        for index in range(20):
            lab.ns(lab.node, "ip", "link", "del", f"gcpeer{index}", check=False)
    assert node.dnsmasq_pid() == pid
    assert sorted(node.hosts) == before
    for vm in extra:
        assert lab.node_state(vm.tap)["nft"] == []
    assert node.dhcp(node.guests[1]).startswith(f"ip={node.guests[1].ip} ")


def test_down_removes_the_host_and_dhcp_no_longer_answers(node: Node) -> None:
    lab, two = node.lab, node.guests[2]
    pid = node.dnsmasq_pid()
    node.down(two, two.ip)
    assert f"{two.mac},{two.ip}" not in node.hosts
    state = lab.node_state(two.tap)
    assert state["nft"] == [] and state["routes"] == [], state
    assert SERVICE not in lab.ns(lab.node, "ip", "-o", "addr", "show", two.tap).stdout
    if shutil.which("ethtool"):  # back to what it was
        assert "tx-checksumming: on" in lab.ns(lab.node, "ethtool", "-k", two.tap).stdout
    assert not (lab.workdir / "state" / f"{two.tap}.json").exists()
    # The guest still runs (3.2 runs down right after the ACPI powerdown) and
    # asks again, on a tap given back its address by hand: nobody answers.
    lab.ns(lab.node, "ip", "link", "set", two.tap, "up")
    lab.ns(lab.node, "ip", "addr", "add", f"{SERVICE}/32", "dev", two.tap)
    assert node.dhcp(two) == ""
    lab.ns(lab.node, "ip", "addr", "del", f"{SERVICE}/32", "dev", two.tap)
    node.up(two, two.ip)
    assert node.dhcp(two).startswith(f"ip={two.ip} ")
    assert node.fetch(two, f"http://{SERVICE}/meta_data.json")
    assert node.dnsmasq_pid() == pid


def test_a_reused_address_is_answered_at_once(node: Node) -> None:
    """dnsmasq keeps a lease across SIGHUP: the NIC's down releases it, or its next owner waits for it to expire."""
    lab, two = node.lab, node.guests[2]
    assert node.dhcp(two).startswith(f"ip={two.ip} ")  # a lease of two's MAC
    try:
        for mac in ("52:54:00:00:00:33", two.mac):  # another guest given the address, then two again
            node.down(two, two.ip)
            lab.ns(two.name, "ip", "link", "set", "eth0", "address", mac)
            node.up(Vm(name=two.name, tap=two.tap, mac=mac, ip=two.ip), two.ip)
            assert node.dhcp(two).startswith(f"ip={two.ip} "), (mac, node.last)
    finally:
        lab.ns(two.name, "ip", "link", "set", "eth0", "address", two.mac)
    assert node.fetch(two, f"http://{SERVICE}/meta_data.json")


def _cli(node: Node, *args: str) -> subprocess.CompletedProcess[str]:
    return node.lab.program("snf-network", {"PATH": os.environ["PATH"], "SNF_NETWORK_CONFIG":
                                            str(node.lab.config_path)}, *args, check=False)


def test_status_verify_and_reapply(node: Node) -> None:
    lab, one = node.lab, node.guests[1]
    status = _cli(node, "communication", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"running (pid {node.dnsmasq_pid()})" in status.stdout
    assert f"gnt.com.0: {one.name}.example.org {one.mac},{one.ip} in the hosts file" in status.stdout
    assert _cli(node, "verify").returncode == 0
    plan = _cli(node, "plan", *(f"{key}={value}" for key, value in node.env(one, one.ip).items()))
    assert plan.returncode == 0 and "communication" in plan.stdout and f"{one.mac},{one.ip}" in plan.stdout
    # Debian's nftables.service flushes the ruleset; an operator edits the hosts file.
    lab.ns(lab.node, "nft", "flush", "ruleset")
    (node.directory / "hosts").write_text("# emptied\n")
    assert _cli(node, "communication", "status").returncode == 1
    report = _cli(node, "verify")
    assert report.returncode == 1 and f"missing dnsmasq host {one.mac},{one.ip}" in report.stdout
    assert _cli(node, "reapply").returncode == 0
    assert _cli(node, "verify").returncode == 0
    assert sorted(node.hosts) == sorted(f"{vm.mac},{vm.ip}" for vm in node.guests.values())
    assert node.dhcp(one).startswith(f"ip={one.ip} ")
    # The isolation is back too.
    with lab.serving(lab.node, 8080):
        assert not lab.connects(one.name, SERVICE, 8080)


def test_serve_rebuilds_the_hosts_file_on_sighup(node: Node) -> None:
    (node.directory / "hosts").write_text("# emptied\n52:54:00:99:99:99,169.254.9.9\n")
    # serve runs under ip netns exec, which execs it: the same pid.
    node.serve.send_signal(signal.SIGHUP)
    _wait(lambda: len(node.hosts) == 2, "the hosts file rebuilt")
    assert "52:54:00:99:99:99,169.254.9.9" not in node.hosts


def test_ganeti_31_with_its_own_kvm_ifup_os(node: Node) -> None:
    """kvm-ifup sources kvm-ifup-os (Ganeti's, or ours), then execs kvm-vif-bridge (ours)."""
    lab, one = node.lab, node.guests[1]
    # Ganeti's own (tests/ganeti_ifup_os.py: its steps, with its dnsmasq kill and
    # restart) keeps its files in a directory dnsmasq can read as nobody.
    ganeti = Path(tempfile.mkdtemp(prefix="snf-ganeti-"))
    ganeti.chmod(0o755)
    (ganeti / "kvm-ifup-os.ganeti").write_text(ganeti_ifup_os.SCRIPT)
    ours = (Path(__file__).parents[2] / "ganeti" / "ifup-os").read_text()
    (ganeti / "kvm-ifup-os.ours").write_text(ours.replace("/usr/bin/kvm-vif-bridge", str(VENV_BIN / "kvm-vif-bridge")))
    (ganeti / "kvm-ifup-os.ours").chmod(0o755)
    pid = node.dnsmasq_pid()
    try:
        for variant in ("ganeti", "ours"):
            node.down(one, one.ip)
            # Ganeti 3.1's kvm-ifup: source kvm-ifup-os for a communication tap, then exec kvm-vif-bridge.
            kvm_ifup = f'. {ganeti}/kvm-ifup-os.{variant}\nexec {VENV_BIN / "kvm-vif-bridge"}\n'
            result = subprocess.run(["ip", "netns", "exec", lab.node, "bash", "-c", kvm_ifup, "kvm-ifup", one.tap],
                                    env={**node.env(one, one.ip), "DIR": str(ganeti)}, capture_output=True,
                                    text=True, check=False)
            assert (result.returncode, result.stderr) == (0, ""), (variant, result.stderr)
            assert (lab.workdir / "state" / "gnt.com.0.json").exists()
            # With Ganeti's, two dnsmasqs answer, both bind-dynamic on gnt.com.*, with the same address.
            assert (ganeti / "dnsmasq.pid").exists() == (variant == "ganeti")
            assert node.dhcp(one).startswith(f"ip={one.ip} "), variant
            assert node.fetch(one, f"http://{SERVICE}/meta_data.json"), variant
            with lab.serving(lab.node, 8080):
                assert not lab.connects(one.name, SERVICE, 8080), variant
            if variant == "ganeti":
                # What switching to ours asks of the operator once: Ganeti's dnsmasq stopped.
                theirs = Path(f"/proc/{(ganeti / 'dnsmasq.pid').read_text().strip()}")
                subprocess.run(["kill", theirs.name], check=True)
                _wait(lambda path=theirs: not path.exists(), "Ganeti's dnsmasq to exit")
                (ganeti / "dnsmasq.pid").unlink()
        # Ganeti 3.2 executes kvm-ifup-os (ours) with ACTION instead of network/routed/<action>; Xen's
        # noded runs xen-ifup-os with the same environment and no ACTION.
        for action in ("down", "up", ""):
            result = subprocess.run(["ip", "netns", "exec", lab.node, str(ganeti / "kvm-ifup-os.ours"), one.tap],
                                    env={**node.env(one, one.ip), **({"ACTION": action} if action else {})},
                                    capture_output=True, text=True, check=False)
            assert (result.returncode, result.stderr) == (0, ""), (action, result.stderr)
            assert (f"{one.mac},{one.ip}" in node.hosts) == (action != "down")
    finally:
        if (ganeti / "dnsmasq.pid").exists():
            subprocess.run(["kill", (ganeti / "dnsmasq.pid").read_text().strip()], check=False)
        shutil.rmtree(ganeti, ignore_errors=True)
    assert node.dnsmasq_pid() == pid


def test_bad_values_are_refused_and_change_nothing(node: Node) -> None:
    lab, one = node.lab, node.guests[1]
    before = (sorted(node.hosts), lab.ns(lab.node, "nft", "list", "ruleset").stdout)
    for change, message in ((dict(IP=""), "IP: not set"), (dict(IP="192.0.2.9", NETWORK_SUBNET=""), "link-local"),
                            (dict(IP=SERVICE), "link-local and not"), (dict(IP="169.254.0.0"), "link-local and not"),
                            (dict(IP="169.254.255.255"), "link-local and not"), (dict(MAC="52:54:00:00"), "MAC")):
        result = lab.program("kvm-vif-bridge", {**node.env(one, one.ip), **change, "ACTION": "up"}, check=False)
        assert result.returncode == 2 and message in result.stderr, (change, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
    assert (sorted(node.hosts), lab.ns(lab.node, "nft", "list", "ruleset").stdout) == before


def test_another_dnsmasq_in_the_pid_file_is_not_ours(node: Node) -> None:
    """A stale pid file naming another dnsmasq (Ganeti's, libvirt's): not ours (not signalled, not reported)."""
    lab, pid_file = node.lab, node.directory / "dnsmasq.pid"
    ours = pid_file.read_text()
    other = subprocess.Popen(["ip", "netns", "exec", lab.node, "dnsmasq", "--keep-in-foreground", "--port=0",
                              "--conf-file=/dev/null", "--log-facility=-"], stderr=subprocess.PIPE, text=True)
    try:
        assert other.stderr is not None and "started" in other.stderr.readline()
        pid_file.write_text(f"{other.pid}\n")
        status = _cli(node, "communication", "status")
        assert status.returncode == 1 and "not running" in status.stdout, status.stdout
    finally:
        pid_file.write_text(ours)
        other.terminate()
        other.wait(timeout=10)
        if other.stderr is not None:
            other.stderr.close()
    assert _cli(node, "communication", "status").returncode == 0


def test_files_made_under_umask_077_are_made_readable_for_dnsmasq(node: Node) -> None:
    """Ganeti's noded runs NIC programs under umask 077; dnsmasq reads the hosts file as nobody."""
    hosts = node.directory / "hosts"
    hosts.chmod(0o600)
    status = _cli(node, "communication", "status")
    assert status.returncode == 1 and "dnsmasq (as nobody) cannot read it" in status.stdout, status.stdout
    # serve started again on a directory a NIC program made under umask 077.
    node.serve.terminate()
    assert node.serve.wait(timeout=10) == 0
    assert node.serve.stderr is not None
    node.serve.stderr.close()
    node.directory.chmod(0o700)
    node.serve = _start_serve(node.lab, node.directory)
    assert (node.directory.stat().st_mode & 0o777, hosts.stat().st_mode & 0o777) == (0o755, 0o644)
    one = node.guests[1]
    assert node.dhcp(one).startswith(f"ip={one.ip} "), node.last
    assert _cli(node, "communication", "status").returncode == 0


def test_an_address_another_tap_holds_is_refused(node: Node) -> None:
    lab, one = node.lab, node.guests[1]
    lab.ns(lab.node, "ip", "link", "add", "gnt.com.9", "type", "veth", "peer", "name", "gcpeer9")
    try:
        before = (sorted(node.hosts), lab.ns(lab.node, "nft", "list", "ruleset").stdout,
                  lab.ns(lab.node, "ip", "route", "show").stdout)
        thief = Vm(name=lab.node, tap="gnt.com.9", mac="52:54:00:00:09:09", ip=one.ip)
        result = lab.program("kvm-vif-bridge", {**node.env(thief, one.ip), "ACTION": "up"}, check=False)
        assert result.returncode == 2 and f"IP: {one.ip} is the communication address of gnt.com.0" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert (sorted(node.hosts), lab.ns(lab.node, "nft", "list", "ruleset").stdout,
                lab.ns(lab.node, "ip", "route", "show").stdout) == before
        assert not (lab.workdir / "state" / "gnt.com.9.json").exists()
        assert node.fetch(one, f"http://{SERVICE}/meta_data.json")
    finally:
        lab.ns(lab.node, "ip", "link", "del", "gcpeer9", check=False)


def test_serve_stops_promptly_and_takes_dnsmasq_with_it(node: Node) -> None:
    pid = node.dnsmasq_pid()
    started = time.monotonic()
    node.serve.terminate()
    assert node.serve.wait(timeout=10) == 0
    assert time.monotonic() - started < 5
    _wait(lambda: not Path(f"/proc/{pid}").exists(), "dnsmasq to exit")
    assert not (node.directory / "dnsmasq.pid").exists()
    assert node.serve.stderr is not None
    log = node.serve.stderr.read()
    assert "started" in log and "stopped" in log, log
    # The data plane stays: the taps keep their address, route and filters.
    lab = node.lab
    assert SERVICE in lab.ns(lab.node, "ip", "-o", "addr", "show", "gnt.com.0").stdout
    assert lab.node_state("gnt.com.0")["nft"]
    status = _cli(node, "communication", "status")
    assert status.returncode == 1 and "not running" in status.stdout
    # And the NIC programs do not need it.
    one = node.guests[1]
    node.down(one, one.ip)
    node.up(one, one.ip)
    for vm in node.guests.values():
        node.down(vm, vm.ip)
        state = lab.node_state(vm.tap)
        assert state["nft"] == [] and state["routes"] == [] and state["rules"] == [], state
    assert node.hosts == []
    assert [name for name in sh("ls", str(lab.workdir / "state")).stdout.split() if name.endswith(".json")] == []
