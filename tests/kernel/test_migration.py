"""A live migration between two nodes, as stock Ganeti and Ganeti 3.2 drive it, against the real kernel.

Node A runs the VM; its veth (the tap) moves to node B, as the VM's packets
would after QEMU's migration. B's ifup runs with ``MIGRATION_PHASE=post``
(Ganeti configures routed NICs on the target only once the migration
succeeded) and announces the VM's addresses; A never gets an ifdown (stock
Ganeti has none), and the instance-migrate post hook clears it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kernel.two_nodes import (
    NODE_A,
    NODE_B,
    SecondNode,
    build_two_nodes,
    hook_env,
    hook_nic,
    nothing_left,
    run_hook,
)
from tests.lab import GATEWAY, GATEWAY6, Lab, Vm, can_run

pytestmark = pytest.mark.kernel

MAC = "aa:00:00:12:34:56"
IP = "192.0.2.10"
EUI64 = "2001:db8:1::a800:ff:fe12:3456"
EUI64_LONG = "2001:db8:1:0:a800:ff:fe12:3456"


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[tuple[Lab, SecondNode]]:
    reason = can_run()
    if reason:
        pytest.skip(f"kernel tests skipped: {reason}")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = Lab(tmp_path / "a")
    b = SecondNode(tmp_path / "b", suffix=a.suffix)
    try:
        build_two_nodes(a, b)
        yield a, b
    finally:
        b.close()
        a.close()


def mac_of(lab: Lab, namespace: str, device: str) -> str:
    return lab.ns(namespace, "cat", f"/sys/class/net/{device}/address").stdout.strip()


def upstream_sees(lab: Lab, address: str) -> str:
    """The MAC the upstream router has for ``address`` (it routes the VM's traffic there)."""
    words = lab.ns(lab.upstream, "ip", "neigh", "show", address).stdout.split()
    return words[words.index("lladdr") + 1] if "lladdr" in words else ""


def wait_for(condition: object, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.05)
    return False


def test_live_migration_leaves_nothing_on_the_old_node_and_everything_on_the_new(
        nodes: tuple[Lab, SecondNode]) -> None:
    a, b = nodes
    vm = a.add_vm(1, MAC)
    instance = f"{vm.name}.example.org"
    # Ganeti 3.2's network/routed/up on A at instance start.
    assert a.program("kvm-vif-bridge", a.ganeti_env(vm, ip=IP, ACTION="up")).stderr == ""
    a.configure_vm(vm, IP, EUI64)
    assert a.ping(a.upstream, IP) and a.ping(a.upstream, EUI64)
    mac_a, mac_b = mac_of(a, a.node, "eth0"), mac_of(b, b.node, "eth0")
    assert upstream_sees(a, IP) == mac_a and upstream_sees(a, EUI64) == mac_a
    time.sleep(1.2)  # past the neighbour entries' locktime: an update now is the announcement's doing

    # The VM's packets now reach B: its veth moves there, under B's own tap name.
    a.ns(a.node, "ip", "link", "set", vm.tap, "netns", b.node)
    b.ns(b.node, "ip", "link", "set", vm.tap, "name", "tap7")
    moved = Vm(name=vm.name, tap="tap7", mac=MAC, ip=IP)
    up = b.program("kvm-vif-bridge", b.ganeti_env(moved, ip=IP, ACTION="up", MIGRATION_PHASE="post"))
    assert (up.returncode, up.stderr) == (0, "")
    # B told the upstream router, unasked: gratuitous ARP and an unsolicited NA from B's uplink.
    assert wait_for(lambda: upstream_sees(a, IP) == mac_b), upstream_sees(a, IP)
    assert wait_for(lambda: upstream_sees(a, EUI64) == mac_b), upstream_sees(a, EUI64)
    # A still holds the instance's leftovers (no ifdown in stock Ganeti), the proxy entry first.
    assert a.node_state(vm.tap)["proxies"] == [f"{EUI64_LONG} dev eth0 proxy "]

    # Ganeti runs the instance-migrate post hook on both nodes (and the master).
    for lab in (a, b):
        env = hook_env(lab.config_path, "OP_INSTANCE_MIGRATE", instance, [hook_nic(MAC, IP)],
                       GANETI_OLD_PRIMARY=NODE_A, GANETI_NEW_PRIMARY=NODE_B, GANETI_MIGRATE_LIVE="True",
                       GANETI_MIGRATE_CLEANUP="False", GANETI_INSTANCE_SECONDARIES=NODE_B)
        env["GANETI_POST_INSTANCE_PRIMARY"] = NODE_B
        result = run_hook(lab, env)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")

    # A holds nothing of the instance...
    nothing_left(a, vm.tap)
    assert list((a.workdir / "state").glob("*.json")) == []
    assert list((a.workdir / "nfdhcpd").iterdir()) == []
    assert '"tap1"' not in a.ns(a.node, "nft", "list", "ruleset").stdout
    # ...B all of it.
    state = b.node_state("tap7")
    assert state["proxies"] == [f"{EUI64_LONG} dev eth0 proxy "]
    assert len(state["rules"]) == 4 and state["nft"]  # lookup and unreachable, IPv4 and IPv6
    assert any(f"{IP} dev tap7 table" in route for route in state["routes"])
    assert f"HOSTNAME={instance}\n" in (b.workdir / "nfdhcpd" / "tap7").read_text()
    assert (b.workdir / "state" / "tap7.json").exists()
    # The upstream host reaches the VM on B, over IPv4 and IPv6, and the VM its gateways.
    a.ns(a.upstream, "ip", "neigh", "flush", "dev", "br0")
    assert a.ping(a.upstream, IP) and a.ping(a.upstream, EUI64)
    assert upstream_sees(a, EUI64) == mac_b  # only B answers for the VM now
    assert a.ping(vm.name, GATEWAY) and a.ping(vm.name, GATEWAY6)

    b.program("kvm-vif-bridge", {**b.ganeti_env(moved, ip=IP), "ACTION": "down"})
    nothing_left(b, "tap7")


def test_on_the_target_before_the_hook_both_nodes_proxy_and_the_hook_ends_it(
        nodes: tuple[Lab, SecondNode]) -> None:
    """Why the hook matters: A's stale proxy entry answers for the VM's IPv6 address until it runs."""
    a, b = nodes
    vm = a.add_vm(1, MAC)
    instance = f"{vm.name}.example.org"
    a.program("kvm-vif-bridge", a.ganeti_env(vm, ip=IP))
    a.configure_vm(vm, IP, EUI64)
    a.ns(a.node, "ip", "link", "set", vm.tap, "netns", b.node)
    moved = Vm(name=vm.name, tap=vm.tap, mac=MAC, ip=IP)
    b.program("kvm-vif-bridge", b.ganeti_env(moved, ip=IP, MIGRATION_PHASE="post"))
    answered_by_a = a.ns(a.node, "ip", "-6", "neigh", "show", "proxy").stdout
    assert EUI64_LONG in answered_by_a
    # The hook on a node that is neither primary changes nothing; on A it clears.
    env = hook_env(a.config_path, "OP_INSTANCE_MIGRATE", instance, [hook_nic(MAC, IP)],
                   GANETI_OLD_PRIMARY="nodec.example.org", GANETI_NEW_PRIMARY=NODE_B)
    assert run_hook(a, env).returncode == 0
    assert EUI64_LONG in a.ns(a.node, "ip", "-6", "neigh", "show", "proxy").stdout
    env["GANETI_OLD_PRIMARY"] = NODE_A
    assert run_hook(a, env).returncode == 0
    nothing_left(a, vm.tap)
    b.program("kvm-ifdown-custom", b.ganeti_env(moved), vm.tap, "true")
    nothing_left(b, vm.tap)
