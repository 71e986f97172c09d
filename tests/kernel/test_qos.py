"""Bandwidth limits against the real kernel: tc state read back, and real TCP through it (iperf3).

Each run of iperf3 is short (2 s): TCP settles at a shaper's rate within a
fraction of a second, and the suite's time budget is small.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kernel.two_nodes import nothing_left
from tests.lab import GATEWAY, UPSTREAM_IP, Lab, Vm, can_run

pytestmark = pytest.mark.kernel

IP = "192.0.2.10"
EUI64 = "2001:db8:1::a800:ff:fe12:3456"
LIMIT = 20e6
PORT = 5201


@pytest.fixture(scope="module")
def routed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, Vm]]:
    """One node with one routed VM (tap1), shared by the tests that re-run its ifup with other tags."""
    reason = can_run() or ("" if shutil.which("iperf3") else "iperf3 is not installed (run tools/setup.sh)")
    if reason:
        pytest.skip(f"qos kernel tests skipped: {reason}")
    lab = Lab(tmp_path_factory.mktemp("qos"))
    try:
        lab.build()
        vm = lab.add_vm(1, "aa:00:00:12:34:56")
        lab.configure_vm(vm, IP, EUI64)
        yield lab, vm
    finally:
        lab.close()


def throughput(lab: Lab, server_ns: str, client_ns: str, address: str, reverse: bool = False) -> float:
    """Bits per second that arrived, over 2 s of one TCP stream (``reverse``: the server sends)."""
    server = subprocess.Popen(["ip", "netns", "exec", server_ns, "iperf3", "-s", "-1", "-p", str(PORT)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):  # until it listens
            if f":{PORT} " in lab.ns(server_ns, "ss", "-ltn").stdout:
                break
            time.sleep(0.05)
        argv = ["iperf3", "-c", address, "-p", str(PORT), "-t", "2", "-J", *(["-R"] if reverse else [])]
        result = lab.ns(client_ns, *argv)
        report = json.loads(result.stdout)
        return float(report["end"]["sum_received"]["bits_per_second"])
    finally:
        server.kill()
        server.wait()


def tc_state(lab: Lab, *devices: str) -> str:
    out = lab.ns(lab.node, "tc", "qdisc", "show").stdout + lab.ns(lab.node, "ip", "-o", "link", "show").stdout
    for dev in devices:
        out += lab.ns(lab.node, "tc", "filter", "show", "dev", dev, "ingress", check=False).stdout
    return out


def test_a_tagged_routed_nic_is_shaped_both_ways_and_ifdown_removes_every_part(routed: tuple[Lab, Vm]) -> None:
    lab, vm = routed
    env = lab.ganeti_env(vm, ip=IP, TAGS="snf-network:qos:0:20mbit other-tag")
    lab.program("kvm-vif-bridge", env)
    qdiscs = lab.ns(lab.node, "tc", "qdisc", "show").stdout
    assert "qdisc htb 1: dev tap1 root" in qdiscs and "qdisc htb 1: dev ifbtap1 root" in qdiscs
    assert "qdisc ingress ffff: dev tap1" in qdiscs
    assert "rate 20Mbit" in lab.ns(lab.node, "tc", "class", "show", "dev", "ifbtap1").stdout
    assert "mirred (Egress Redirect to device ifbtap1)" in lab.ns(
        lab.node, "tc", "filter", "show", "dev", "tap1", "ingress").stdout
    verify = lab.program("snf-network", env, "verify")
    assert "0 differ" in verify.stdout
    assert lab.ping(vm.name, GATEWAY)
    sent = throughput(lab, lab.upstream, vm.name, UPSTREAM_IP)  # from the VM: through the ifb
    received = throughput(lab, lab.upstream, vm.name, UPSTREAM_IP, reverse=True)  # to the VM: the tap's egress
    assert abs(sent - LIMIT) <= 0.15 * LIMIT, sent
    assert abs(received - LIMIT) <= 0.15 * LIMIT, received
    lab.program("kvm-ifdown-custom", env, "tap1", "false")
    left = tc_state(lab, "tap1")
    assert "ifbtap1" not in left and "htb" not in left and "ingress" not in left and "mirred" not in left
    nothing_left(lab, "tap1")  # nor a rule, route, proxy, nft element, binding or record


def test_the_smallest_frames_a_vm_can_send_go_through_the_shaper_too(routed: tuple[Lab, Vm]) -> None:
    """A bare Ethernet header (a RARP frame of 14 bytes, which antispoof lets through) is redirected too."""
    lab, vm = routed
    env = lab.ganeti_env(vm, ip=IP, TAGS="snf-network:qos:0:20mbit")
    lab.program("kvm-vif-bridge", env)
    counter = "/sys/class/net/ifbtap1/statistics/tx_packets"
    before = int(lab.ns(lab.node, "cat", counter).stdout)
    mac = bytes.fromhex(vm.mac.replace(":", ""))
    frames = [b"\xff" * 6 + mac + b"\x80\x35", b"\xff" * 6 + mac + b"\x80\x35\x00\x01"]  # 0 and 2 bytes after it
    lab.send_frames(vm.name, "eth0", frames * 5)
    # The ifb transmits from a tasklet, after send_frames has returned: its counter is waited for.
    deadline = time.monotonic() + 5
    while int(lab.ns(lab.node, "cat", counter).stdout) - before < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert int(lab.ns(lab.node, "cat", counter).stdout) - before >= 10
    lab.program("kvm-ifdown-custom", env, "tap1", "false")


def test_an_ifb_of_that_name_no_record_lists_is_refused_and_kept(routed: tuple[Lab, Vm]) -> None:
    lab, vm = routed
    lab.ns(lab.node, "ip", "link", "add", "ifbtap1", "type", "ifb")  # someone else's
    try:
        env = lab.ganeti_env(vm, ip=IP, TAGS="snf-network:qos:0:20mbit")
        result = lab.program("kvm-vif-bridge", env, check=False)
        assert result.returncode != 0 and len(result.stderr.splitlines()) == 1, result
        assert "ifbtap1 exists and no record of ours lists it" in result.stderr
        assert "ifbtap1" in lab.ns(lab.node, "ip", "link", "show").stdout
        assert "htb" not in tc_state(lab, "tap1")
    finally:
        lab.ns(lab.node, "ip", "link", "del", "ifbtap1", check=False)


def test_without_a_tag_the_same_path_is_unlimited(routed: tuple[Lab, Vm]) -> None:
    lab, vm = routed
    lab.program("kvm-vif-bridge", lab.ganeti_env(vm, ip=IP, TAGS="snf-network:qos:0:20mbit"))
    # The tap name reused by a NIC without a limit: the old NIC's shapers and ifb go.
    env = lab.ganeti_env(vm, ip=IP, TAGS="snf-network:qos:1:20mbit")  # another NIC's tag: not this one's
    lab.program("kvm-vif-bridge", env)
    left = tc_state(lab, "tap1")
    assert "htb" not in left and "ifbtap1" not in left and "ingress" not in left
    assert lab.ping(vm.name, GATEWAY)
    assert throughput(lab, lab.upstream, vm.name, UPSTREAM_IP) > 3 * LIMIT
    assert throughput(lab, lab.upstream, vm.name, UPSTREAM_IP, reverse=True) > 3 * LIMIT
    lab.program("kvm-ifdown-custom", env, "tap1", "false")


def test_a_changed_tag_takes_effect_at_the_next_ifup_and_reapply_restores_a_flushed_shaper(
        routed: tuple[Lab, Vm]) -> None:
    lab, vm = routed
    lab.program("kvm-vif-bridge", lab.ganeti_env(vm, ip=IP, NETWORK_TAGS="ip-less-routed qos:20mbit"))
    env = lab.ganeti_env(vm, ip=IP, NETWORK_TAGS="ip-less-routed qos:20mbit",
                         TAGS="snf-network:qos:4e3c2a10-0000-4000-8000-000000000001:5mbit:64kb")
    lab.program("kvm-vif-bridge", env)  # the instance tag (by UUID) wins over the network's
    for dev in ("tap1", "ifbtap1"):
        classes = lab.ns(lab.node, "tc", "class", "show", "dev", dev).stdout
        assert "rate 5Mbit" in classes and "burst 64Kb" in classes and "20Mbit" not in classes, classes
    filters = lab.ns(lab.node, "tc", "filter", "show", "dev", "tap1", "ingress").stdout
    assert filters.count("Egress Redirect") == 1
    # Someone flushes the node's tc state: verify says so, reapply puts it back.
    lab.ns(lab.node, "tc", "qdisc", "del", "dev", "tap1", "root")
    lab.ns(lab.node, "tc", "qdisc", "del", "dev", "tap1", "ingress")
    verify = lab.program("snf-network", env, "verify", check=False)
    assert verify.returncode == 1 and "tap1: no shaper on tap1" in verify.stdout
    assert "the ingress of tap1 is not redirected to ifbtap1" in verify.stdout
    lab.program("snf-network", env, "reapply")
    assert "0 differ" in lab.program("snf-network", env, "verify").stdout
    lab.program("snf-network", env, "down", "tap1")
    left = tc_state(lab, "tap1")
    assert "ifbtap1" not in left and "htb" not in left and "ingress" not in left


@pytest.mark.parametrize(("tags", "network_tags", "message"), [
    ("snf-network:qos:0:20", "", "is not a whole number with a tc unit"),
    ("snf-network:qos:0:fast", "", "is not a whole number with a tc unit"),
    ("snf-network:qos:0:20mbit:1", "", "must be from 1600 bytes"),
    ("snf-network:qos:0:20mbit snf-network:qos:0:30mbit", "", "already has another qos tag"),
    ("", "ip-less-routed qos:1kbit", "outside 8kbit..400gbit"),
    ("", "ip-less-routed qos", "expected qos:<rate>[:<burst>]"),
])
def test_a_bad_qos_tag_is_one_line_and_changes_nothing(routed: tuple[Lab, Vm], tags: str, network_tags: str,
                                                       message: str) -> None:
    lab, vm = routed
    before = tc_state(lab, "tap1")
    env = lab.ganeti_env(vm, ip=IP, TAGS=tags, NETWORK_TAGS=network_tags or "ip-less-routed")
    result = lab.program("kvm-vif-bridge", env, check=False)
    assert result.returncode == 2 and message in result.stderr and len(result.stderr.splitlines()) == 1
    assert tc_state(lab, "tap1") == before
    assert not (lab.workdir / "state" / "tap1.json").exists()


def test_a_bridged_nic_with_the_network_tag_is_shaped_both_ways(lab: Lab, tmp_path: Path) -> None:
    if not shutil.which("iperf3"):
        pytest.skip("iperf3 is not installed (run tools/setup.sh)")
    lab.build(routed=False)
    lab.bridge("br0", "203.0.113.1/24")
    vm = lab.add_vm(2, "aa:00:00:00:00:02", tap="tap2")
    env = lab.ganeti_env(vm, ip="203.0.113.10", mode="bridged", link="br0", tags="qos:20mbit:32kb",
                         NETWORK_SUBNET="203.0.113.0/24", NETWORK_GATEWAY="203.0.113.1",
                         NETWORK_SUBNET6="", NETWORK_GATEWAY6="")
    lab.program("kvm-vif-bridge", env)
    lab.ns(vm.name, "ip", "addr", "add", "203.0.113.10/24", "dev", "eth0")
    assert lab.ping(vm.name, "203.0.113.1")
    sent = throughput(lab, lab.node, vm.name, "203.0.113.1")
    received = throughput(lab, lab.node, vm.name, "203.0.113.1", reverse=True)
    assert abs(sent - LIMIT) <= 0.15 * LIMIT, sent
    assert abs(received - LIMIT) <= 0.15 * LIMIT, received
    lab.program("kvm-ifdown-custom", env, "tap2", "false")
    left = tc_state(lab, "tap2")
    assert "ifbtap2" not in left and "htb" not in left and "ingress" not in left


def test_cleanup_removes_the_ifb_of_a_tap_that_vanished(lab: Lab) -> None:
    lab.build(routed=False)
    lab.bridge("br0")
    vm = lab.add_vm(3, "aa:00:00:00:00:03", tap="tap3")
    env = lab.ganeti_env(vm, mode="bridged", link="br0", tags="qos:1gbit", NETWORK_SUBNET="", NETWORK_GATEWAY="",
                         NETWORK_SUBNET6="", NETWORK_GATEWAY6="")
    lab.program("kvm-vif-bridge", env)
    assert "ifbtap3" in lab.ns(lab.node, "ip", "-o", "link", "show").stdout
    lab.ns(lab.node, "ip", "link", "del", "tap3")  # the VM died; nobody ran an ifdown
    assert "removed tap3: " in lab.program("snf-network", env, "cleanup").stdout
    assert "ifbtap3" not in lab.ns(lab.node, "ip", "-o", "link", "show").stdout


def test_a_xen_vif_is_shaped_like_a_tap(lab: Lab) -> None:
    from tests.kernel.test_xen import VIF, FakeXen, build, hotplug

    xen = FakeXen(lab.workdir / "xen", lab.workdir / "state")
    nic_file = build(lab, xen, "ganeti-3.1-bridged", routed=False)
    nic_file.write_text(nic_file.read_text().replace('TAGS=""', 'TAGS="snf-network:qos:0:50mbit"'))
    lab.bridge("br0")
    assert hotplug(lab, xen, "online").returncode == 0
    assert "rate 50Mbit" in lab.ns(lab.node, "tc", "class", "show", "dev", VIF).stdout
    assert "rate 50Mbit" in lab.ns(lab.node, "tc", "class", "show", "dev", "ifbvif5.0").stdout
    assert hotplug(lab, xen, "offline").returncode == 0
    left = tc_state(lab, VIF)
    assert "ifbvif5.0" not in left and "htb" not in left and "ingress" not in left
