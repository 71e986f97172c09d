"""Firewall profiles against real connections, for routed and bridged NICs."""

from __future__ import annotations

import pytest

from tests.lab import GATEWAY, GATEWAY6, Lab

pytestmark = pytest.mark.kernel

VM_IP, VM_IP6 = "192.0.2.10", "2001:db8:1::a800:ff:fe12:3456"


def routed_vm(lab: Lab, tags: str, extra_config: str = "") -> None:
    lab.build(extra_config=extra_config)
    vm = lab.add_vm(1, "aa:00:00:12:34:56")
    lab.program("kvm-vif-bridge", lab.ganeti_env(vm, ip=VM_IP, TAGS=tags))
    lab.configure_vm(vm, VM_IP, VM_IP6)


def test_protected_refuses_new_connections_but_not_replies_ping_or_nd(lab: Lab) -> None:
    routed_vm(lab, "synnefo:network:0:protected")
    vm = lab.vms[0]
    with lab.serving(vm.name, 22), lab.serving(lab.upstream, 8080):
        assert not lab.connects(lab.upstream, VM_IP, 22)
        assert not lab.connects(lab.upstream, VM_IP6, 22)
        assert lab.connects(vm.name, GATEWAY, 8080)  # its own connection gets its replies
        assert lab.connects(vm.name, GATEWAY6, 8080)
    assert lab.ping(lab.upstream, VM_IP)
    assert lab.ping(lab.upstream, VM_IP6)  # ICMPv6, neighbour discovery on the tap included


def test_limited_lets_ssh_in_and_nothing_else(lab: Lab) -> None:
    routed_vm(lab, "limited")  # the bare tag of the original: every NIC
    vm = lab.vms[0]
    with lab.serving(vm.name, 22, 80):
        assert lab.connects(lab.upstream, VM_IP, 22)
        assert not lab.connects(lab.upstream, VM_IP, 80)


def test_no_profile_means_no_filtering(lab: Lab) -> None:
    routed_vm(lab, "")
    with lab.serving(lab.vms[0].name, 80):
        assert lab.connects(lab.upstream, VM_IP, 80)


def test_operator_profiles_add_and_replace(lab: Lab) -> None:
    profiles = lab.workdir / "firewall-profiles"
    profiles.write_text("[web]\ntcp dport 80 accept\n\n[protected]\ntcp dport 2222 accept\n")
    routed_vm(lab, "synnefo:network:0:web", extra_config=f"FIREWALL_PROFILES={profiles}\n")
    vm = lab.vms[0]
    with lab.serving(vm.name, 80, 22):
        assert lab.connects(lab.upstream, VM_IP, 80)
        assert not lab.connects(lab.upstream, VM_IP, 22)
    # Redefining a built-in profile: protected now lets 2222 in.
    env = lab.ganeti_env(vm, ip=VM_IP, TAGS="synnefo:network:0:protected")
    lab.program("kvm-vif-bridge", env)
    with lab.serving(vm.name, 2222, 80):
        assert lab.connects(lab.upstream, VM_IP, 2222)
        assert not lab.connects(lab.upstream, VM_IP, 80)
    assert profiles.read_text().startswith("[web]")  # never rewritten by us


def test_bridged_ports_get_their_profile_through_the_bridge(lab: Lab) -> None:
    lab.build(routed=False)
    lab.bridge("br0")
    guarded = lab.add_vm(1, "aa:00:00:00:00:01")
    client = lab.add_vm(2, "aa:00:00:00:00:02")
    common = {"NETWORK_SUBNET": "203.0.113.0/24", "NETWORK_GATEWAY": "", "NETWORK_SUBNET6": "",
              "NETWORK_GATEWAY6": ""}
    lab.program("kvm-vif-bridge", lab.ganeti_env(guarded, ip="203.0.113.11", mode="bridged", link="br0", tags="",
                                                 TAGS="synnefo:network:0:protected", **common))
    lab.program("kvm-vif-bridge", lab.ganeti_env(client, ip="203.0.113.12", mode="bridged", link="br0", tags="",
                                                 **common))
    lab.ns(guarded.name, "ip", "addr", "add", "203.0.113.11/24", "dev", "eth0")
    lab.ns(client.name, "ip", "addr", "add", "203.0.113.12/24", "dev", "eth0")
    with lab.serving(guarded.name, 22), lab.serving(client.name, 8080):
        assert not lab.connects(client.name, "203.0.113.11", 22)
        assert lab.connects(guarded.name, "203.0.113.12", 8080)
    assert lab.ping(client.name, "203.0.113.11")


def test_a_profile_removed_from_the_file_fails_closed(lab: Lab) -> None:
    """Its chain cannot go while a port jumps to it; emptied it would accept everything: it drops."""
    profiles = lab.workdir / "firewall-profiles"
    profiles.write_text("[web]\ntcp dport 80 accept\n")
    routed_vm(lab, "synnefo:network:0:web", extra_config=f"FIREWALL_PROFILES={profiles}\n")
    vm = lab.vms[0]
    with lab.serving(vm.name, 80, 22):
        assert lab.connects(lab.upstream, VM_IP, 80) and not lab.connects(lab.upstream, VM_IP, 22)
    profiles.write_text("")
    other = lab.add_vm(2, "aa:00:00:00:00:02")
    lab.program("kvm-vif-bridge", lab.ganeti_env(other, ip="192.0.2.11"))  # reloads the ruleset without [web]
    with lab.serving(vm.name, 80, 22):
        assert not lab.connects(lab.upstream, VM_IP, 80) and not lab.connects(lab.upstream, VM_IP, 22)
    again = lab.program("kvm-vif-bridge", lab.ganeti_env(vm, ip=VM_IP, TAGS="synnefo:network:0:web"), check=False)
    assert again.returncode == 2 and len(again.stderr.splitlines()) == 1 and "web" in again.stderr, again.stderr
