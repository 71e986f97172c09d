"""Ganeti 3.2's network/<mode>/{up,down} and GRNET's kvm-ifdown-custom, against the real kernel."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator

import pytest

from tests.kernel.two_nodes import NODE_A, hook_env, hook_nic, nothing_left
from tests.lab import Lab

pytestmark = pytest.mark.kernel

MAC = "aa:00:00:12:34:56"
IP = "192.0.2.10"
EUI64 = "2001:db8:1::a800:ff:fe12:3456"
EUI64_LONG = "2001:db8:1:0:a800:ff:fe12:3456"


def test_down_twice_then_up_leaves_a_working_nic(lab: Lab) -> None:
    lab.build()
    vm = lab.add_vm(1, MAC)
    env = lab.ganeti_env(vm, ip=IP)
    up = {**env, "ACTION": "up"}
    down = {**env, "ACTION": "down"}
    lab.program("kvm-vif-bridge", up)
    # Ganeti 3.2 runs down right after the ACPI powerdown and again on each 5 s retry.
    for _ in range(2):
        result = lab.program("kvm-vif-bridge", down)
        assert (result.returncode, result.stderr) == (0, "")
        nothing_left(lab, vm.tap)
    result = lab.program("kvm-vif-bridge", up)
    assert (result.returncode, result.stderr) == (0, "")
    state = lab.node_state(vm.tap)
    # The lookup and the unreachable rule, for IPv4 and IPv6.
    assert state["proxies"] == [f"{EUI64_LONG} dev eth0 proxy "] and len(state["rules"]) == 4
    assert (lab.workdir / "nfdhcpd" / vm.tap).exists()
    lab.configure_vm(vm, IP, EUI64)
    assert lab.ping(lab.upstream, IP)
    assert lab.ping(lab.upstream, EUI64)
    lab.program("kvm-vif-bridge", down)
    nothing_left(lab, vm.tap)


def test_down_for_a_tap_never_configured_is_harmless(lab: Lab) -> None:
    lab.build()
    vm = lab.add_vm(1, MAC)
    result = lab.program("kvm-vif-bridge", {**lab.ganeti_env(vm, ip=IP), "ACTION": "down"})
    assert (result.returncode, result.stderr) == (0, "")
    nothing_left(lab, vm.tap)


@pytest.mark.parametrize("only_local", ["true", "false"])
def test_grnet_ifdown_after_the_tap_is_gone(lab: Lab, only_local: str) -> None:
    lab.build()
    vm = lab.add_vm(1, MAC)
    env = lab.ganeti_env(vm, ip=IP)
    lab.program("kvm-vif-bridge", env, vm.tap)
    # QEMU is gone, and its tap with it: the kernel dropped the tap's routes and
    # sysctls, but not the rules naming it, the proxy entry on the uplink, our
    # nft elements, the binding file or the record.
    lab.ns(lab.node, "ip", "link", "del", vm.tap)
    left = lab.node_state(vm.tap)
    assert left["rules"] and left["proxies"] and left["nft"]
    # GRNET's ifdown environment: no TAGS, no INTERFACE_INDEX.
    down_env = {key: value for key, value in env.items() if key not in ("TAGS", "INTERFACE_INDEX")}
    for _ in range(2):  # and a second time: nothing recorded any more, still 0
        result = lab.program("kvm-ifdown-custom", down_env, vm.tap, only_local)
        assert (result.returncode, result.stderr) == (0, "")
        nothing_left(lab, vm.tap)


def test_grnet_ifdown_refuses_a_bad_flag(lab: Lab) -> None:
    lab.build()
    vm = lab.add_vm(1, MAC)
    env = lab.ganeti_env(vm, ip=IP)
    lab.program("kvm-vif-bridge", env, vm.tap)
    result = lab.program("kvm-ifdown-custom", env, vm.tap, "maybe", check=False)
    assert result.returncode == 2 and "expected true or false" in result.stderr
    assert lab.node_state(vm.tap)["proxies"]  # untouched
    lab.program("kvm-ifdown-custom", env, vm.tap, "true")
    nothing_left(lab, vm.tap)


# -- DNS: what lives outside the node ---------------------------------------------------------

CLONE_NEWNET = 0x40000000


def _setns(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {path}")
    finally:
        os.close(fd)


@pytest.fixture
def named_in_node(lab: Lab) -> Iterator[object]:
    """A real named on the node's 127.0.0.1 (the test thread enters the node's namespace meanwhile).

    The NIC programs run inside the node's namespace, where the test's usual
    named (on the host's 127.0.0.1) cannot be reached; so this test's thread
    and everything it starts (named, the DNS queries) move there for the test.
    """
    from tests.dns.named_server import Named, missing_reason

    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    lab.build()
    saved = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _setns(f"/run/netns/{lab.node}")
        server = Named(lab.workdir / "named").start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        if ctypes.CDLL(None, use_errno=True).setns(saved, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns back")
        os.close(saved)


@pytest.mark.dns
@pytest.mark.parametrize(("only_local", "kept"), [("true", True), ("false", False)])
def test_grnet_ifdown_false_also_removes_the_nics_dns_records(
        lab: Lab, named_in_node: object, only_local: str, kept: bool) -> None:
    from tests.dns.named_server import FORWARD_ZONE, REVERSE6_ZONE32, Named

    assert isinstance(named_in_node, Named)
    named = named_in_node
    # The lab's 2001:db8:1::/64 has no /64 reverse zone in the test's named: its /32 serves it.
    lab.write_config(f"NODE_NAME={NODE_A}\nAUTHENTICATION_METHOD=bind9\nSERVER=127.0.0.1:{named.port}\n"
                     f"FZONE={FORWARD_ZONE}\nKEYFILE={named.keyfile}\nREVERSE_ZONES={REVERSE6_ZONE32}\n")
    vm = lab.add_vm(1, MAC)
    instance = f"{vm.name}.example.org"
    env = lab.ganeti_env(vm, ip=IP, tags="ip-less-routed nfdhcpd dns")
    lab.program("kvm-vif-bridge", env, vm.tap)
    # The records, as Ganeti's instance-add post hook had them made.
    create = hook_env(lab.config_path, "OP_INSTANCE_CREATE", instance, [hook_nic(MAC, IP, "ip-less-routed dns")])
    assert lab.program("snf-network-dnshook", create).returncode == 0
    records = named.records()
    assert {rdtype for _, rdtype, _ in records} == {"A", "AAAA", "PTR"}, records
    lab.ns(lab.node, "ip", "link", "del", vm.tap)  # hot-removed: the tap goes first
    result = lab.program("kvm-ifdown-custom", env, vm.tap, only_local)
    assert (result.returncode, result.stderr) == (0, "")
    nothing_left(lab, vm.tap)
    assert named.records() == (records if kept else set())

