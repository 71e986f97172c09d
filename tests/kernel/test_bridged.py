"""Bridged NICs against the real kernel."""

from __future__ import annotations

import pytest

from tests.lab import Lab

pytestmark = pytest.mark.kernel


def test_bridged_nic_joins_the_bridge_with_its_mtu_and_an_fe_mac(lab: Lab) -> None:
    lab.build(routed=False)
    lab.ns(lab.node, "ip", "link", "add", "br0", "type", "bridge")
    lab.ns(lab.node, "ip", "link", "set", "br0", "mtu", "1400", "up")
    lab.ns(lab.node, "ip", "addr", "add", "203.0.113.1/24", "dev", "br0")
    vm = lab.add_vm(1, "aa:00:00:00:00:01")
    env = lab.ganeti_env(vm, ip="203.0.113.10", mode="bridged", link="br0", tags="nfdhcpd",
                         NETWORK_SUBNET="203.0.113.0/24",
                         NETWORK_GATEWAY="203.0.113.1", NETWORK_SUBNET6="", NETWORK_GATEWAY6="")
    lab.program("kvm-vif-bridge", env)
    record = (lab.workdir / "state" / "tap1.json").read_text().split('"updated"')[1]
    lab.program("kvm-vif-bridge", env)  # again: nothing changes, the port does not leave the bridge
    assert (lab.workdir / "state" / "tap1.json").read_text().split('"updated"')[1].split("\n", 1)[1] == \
        record.split("\n", 1)[1]
    link = lab.ns(lab.node, "ip", "-o", "link", "show", "tap1").stdout
    assert "master br0" in link and "mtu 1400" in link and "link/ether fe:" in link
    lab.ns(vm.name, "ip", "link", "set", "eth0", "mtu", "1400")
    lab.ns(vm.name, "ip", "addr", "add", "203.0.113.10/24", "dev", "eth0")
    assert lab.ping(vm.name, "203.0.113.1")
    assert "INDEV=br0\n" in (lab.workdir / "nfdhcpd" / "tap1").read_text()
    lab.program("kvm-ifdown-custom", env, "tap1", "true")
    assert "master br0" not in lab.ns(lab.node, "ip", "-o", "link", "show", "tap1").stdout
    assert not (lab.workdir / "nfdhcpd" / "tap1").exists()
    assert '"tap1"' not in lab.ns(lab.node, "nft", "list", "ruleset").stdout


def test_missing_bridge_is_refused(lab: Lab) -> None:
    lab.build(routed=False)
    vm = lab.add_vm(1, "aa:00:00:00:00:01")
    result = lab.program("kvm-vif-bridge", lab.ganeti_env(vm, mode="bridged", link="br9", tags=""), check=False)
    assert result.returncode == 2 and "bridge br9 does not exist" in result.stderr
