"""``snf-network reapply`` after ``nft flush ruleset`` (what restarting Debian's nftables.service does)."""

from __future__ import annotations

import pytest

from tests.kernel.test_routed import EUI64, IP, MAC, nothing_left
from tests.lab import UPSTREAM_IP, Lab

pytestmark = pytest.mark.kernel

SPOOFED = "192.0.2.99"


def spoofed_ping(lab: Lab, vm_name: str) -> bool:
    return lab.ping(vm_name, UPSTREAM_IP, source=SPOOFED, count=1)


def test_verify_sees_a_flushed_ruleset_and_reapply_restores_every_nic(lab: Lab) -> None:
    lab.build()
    vm = lab.add_vm(1, MAC)
    env = lab.ganeti_env(vm, ip=IP)
    lab.program("kvm-vif-bridge", env)
    lab.configure_vm(vm, IP, EUI64)
    lab.ns(vm.name, "ip", "addr", "add", f"{SPOOFED}/32", "dev", "eth0")
    lab.ns(lab.upstream, "ip", "route", "replace", f"{SPOOFED}/32", "via", "198.51.100.2", check=False)
    lab.ns(lab.node, "ip", "route", "replace", f"{SPOOFED}/32", "dev", vm.tap, "table", "100")
    assert lab.ping(vm.name, UPSTREAM_IP) and not spoofed_ping(lab, vm.name)

    lab.ns(lab.node, "nft", "flush", "ruleset")
    assert spoofed_ping(lab, vm.name)  # the hazard is real: nothing guards the VM now
    drift = lab.program("snf-network", env, "verify", check=False)
    assert drift.returncode == 1 and "ruleset: an nft table snf is missing" in drift.stdout, drift.stdout

    result = lab.program("snf-network", env, "reapply")
    assert "1 interfaces re-applied, 0 records dropped" in result.stdout
    assert lab.program("snf-network", env, "verify").returncode == 0
    assert lab.ping(vm.name, UPSTREAM_IP) and not spoofed_ping(lab, vm.name)

    lab.ns(lab.node, "nft", "flush", "chain", "inet", "snf", "antispoof")
    drift = lab.program("snf-network", env, "verify", check=False)
    assert drift.returncode == 1 and "chain inet snf antispoof has 0 rules" in drift.stdout, drift.stdout
    lab.program("snf-network", env, "reapply")
    assert not spoofed_ping(lab, vm.name)

    lab.ns(lab.node, "ip", "route", "del", f"{SPOOFED}/32", "dev", vm.tap, "table", "100")
    lab.ns(lab.node, "ip", "link", "del", vm.tap)  # the VM is gone: reapply drops its record
    assert "0 interfaces re-applied, 1 records dropped" in lab.program("snf-network", env, "reapply").stdout
    nothing_left(lab, vm.tap)
