"""Bridged NICs with a VLAN on a VLAN-aware Linux bridge (Ganeti 3.0's semantics), against the real kernel.

This machine's kernel has no VLAN filtering on bridges and no 802.1Q devices:
these tests skip here and run under Debian's kernel, in the one boot of
tests/kernel/test_debian_kernel.py. One test for all of it (one lab), few packets: Python is slow in there.
"""

from __future__ import annotations

import json

import pytest

from tests.lab import Lab, Vm

pytestmark = pytest.mark.kernel

SUBNET = "203.0.113.0/24"


def vlans(lab: Lab, dev: str) -> dict[int, set[str]]:
    out = lab.ns(lab.node, "bridge", "-j", "vlan", "show", "dev", dev).stdout.strip()
    found: dict[int, set[str]] = {}
    for entry in json.loads(out or "[]"):
        for vlan in entry.get("vlans", []):
            for vid in range(vlan["vlan"], vlan.get("vlanEnd", vlan["vlan"]) + 1):
                found[vid] = set(vlan.get("flags", []))
    return found


def vlan_lab(lab: Lab) -> None:
    """br0 filtering VLANs with uplink up1 (VLAN_UPLINKS), which had VLAN 300 before any NIC; br1 not filtering."""
    lab.build(routed=False, extra_config="VLAN_UPLINKS=up1\n")
    node = lab.node
    if lab.ns(node, "ip", "link", "add", "br0", "type", "bridge", "vlan_filtering", "1", check=False).returncode:
        pytest.skip("this kernel has no VLAN filtering on bridges (tests/kernel/test_debian_kernel.py runs this "
                    "under Debian's kernel)")
    if lab.ns(node, "ip", "link", "add", "probe0", "link", "eth0", "type", "vlan", "id", "9",
              check=False).returncode:
        pytest.skip("this kernel has no 802.1Q devices (runs under Debian's kernel: test_debian_kernel.py)")
    lab.ns(node, "ip", "link", "del", "probe0")
    lab.ns(node, "ip", "link", "set", "br0", "up")
    lab.ns(node, "ip", "link", "add", "br1", "type", "bridge")
    lab.ns(node, "ip", "link", "set", "br1", "up")
    lab.ns(node, "ip", "link", "add", "up1", "type", "veth", "peer", "name", "up1peer")
    lab.ns(node, "ip", "link", "set", "up1", "master", "br0", "up")
    lab.ns(node, "bridge", "vlan", "add", "dev", "up1", "vid", "300")  # the operator's


def env(lab: Lab, vm: Vm, vlan: str, link: str = "br0") -> dict[str, str]:
    # The VM's address is its number: antispoof lets only that one out.
    ip = f"203.0.113.{int(vm.name.split('-')[0][len('snfvm'):])}"
    return lab.ganeti_env(vm, ip=ip, mode="bridged", link=link, tags="", VLAN=vlan, NETWORK_SUBNET=SUBNET,
                          NETWORK_GATEWAY="", NETWORK_SUBNET6="", NETWORK_GATEWAY6="")


def address(lab: Lab, vm: Vm, ip: str, vid: int = 0) -> None:
    dev = "eth0"
    if vid:
        dev = f"eth0.{vid}"
        lab.ns(vm.name, "ip", "link", "add", dev, "link", "eth0", "type", "vlan", "id", str(vid))
        lab.ns(vm.name, "ip", "link", "set", dev, "up")
    lab.ns(vm.name, "ip", "addr", "add", f"{ip}/24", "dev", dev)


def tagged_frames(vm: Vm) -> dict[str, tuple[bytes, bytes]]:
    """Frames the trunk's VM sends tagged, each with the marker that tells whether it arrived."""
    scapy = pytest.importorskip("scapy.all", reason="scapy is not installed (tools/setup.sh installs python3-scapy)")
    eth, tag = scapy.Ether(src=vm.mac, dst="ff:ff:ff:ff:ff:ff"), scapy.Dot1Q

    def udp(src: str, marker: bytes) -> scapy.Packet:
        return scapy.IP(src=src, dst="203.0.113.255") / scapy.UDP(sport=5000, dport=9) / scapy.Raw(marker)

    return {
        "honest ipv4 on VLAN 100": (bytes(eth / tag(vlan=100) / udp("203.0.113.4", b"honest-ipv4")), b"honest-ipv4"),
        "ipv4 from another's address": (bytes(eth / tag(vlan=100) / udp("203.0.113.2", b"forged-ipv4")),
                                        b"forged-ipv4"),
        "arp as another": (bytes(eth / tag(vlan=100) / scapy.ARP(op=1, hwsrc=vm.mac, psrc="203.0.113.2",
                                                                 pdst="203.0.113.77")), bytes([203, 0, 113, 77])),
        "a dhcp offer": (bytes(eth / tag(vlan=100) / scapy.IP(src="203.0.113.4", dst="255.255.255.255")
                               / scapy.UDP(sport=67, dport=68) / scapy.BOOTP(op=2) / scapy.Raw(b"forged-offer")),
                         b"forged-offer"),
        "two tags": (bytes(eth / tag(vlan=100) / tag(vlan=100) / udp("203.0.113.4", b"forged-qinq")), b"forged-qinq"),
    }


def test_access_trunk_and_hybrid_ports_on_a_vlan_aware_bridge(lab: Lab) -> None:
    vlan_lab(lab)
    a, b, c = lab.add_vm(1, "aa:00:08:00:00:01"), lab.add_vm(2, "aa:00:08:00:00:02"), lab.add_vm(3, "aa:00:08:00:00:03")
    trunk, hybrid = lab.add_vm(4, "aa:00:08:00:00:04"), lab.add_vm(5, "aa:00:08:00:00:05")
    operators = lab.add_vm(6, "aa:00:08:00:00:06")  # on VLAN 300, which the uplink had before
    envs = {a.tap: env(lab, a, ".100"), b.tap: env(lab, b, "100"), c.tap: env(lab, c, ".200"),
            trunk.tap: env(lab, trunk, ":100:200"), hybrid.tap: env(lab, hybrid, ".200:100"),
            operators.tap: env(lab, operators, ".300")}
    for vm in (a, b, c, trunk, hybrid, operators):
        result = lab.program("kvm-vif-bridge", envs[vm.tap])
        assert (result.returncode, result.stderr) == (0, "")
    # The kernel's default VLAN 1 is gone from every tap; each has what its VLAN says.
    assert vlans(lab, a.tap) == {100: {"PVID", "Egress Untagged"}}
    assert vlans(lab, b.tap) == {100: {"PVID", "Egress Untagged"}}
    assert vlans(lab, trunk.tap) == {100: set(), 200: set()}
    assert vlans(lab, hybrid.tap) == {200: {"PVID", "Egress Untagged"}, 100: set()}
    assert {100, 200, 300} <= set(vlans(lab, "up1"))
    address(lab, a, "203.0.113.1")
    address(lab, b, "203.0.113.2")
    address(lab, c, "203.0.113.3")
    address(lab, trunk, "203.0.113.4", vid=100)
    address(lab, hybrid, "203.0.113.5", vid=100)
    assert lab.ping(a.name, "203.0.113.2", count=1)  # the same access VLAN
    assert lab.ping(a.name, "203.0.113.4", count=1)  # the trunk's VLAN 100, tagged
    assert lab.ping(a.name, "203.0.113.5", count=1)  # the hybrid port's tagged VLAN 100
    assert not lab.ping(a.name, "203.0.113.3", count=1)  # VLAN 200
    # The trunk's tagged frames meet the same anti-spoofing checks as untagged ones.
    sniffer = lab.sniff(a.name, "eth0", seconds=8)  # Python starts slowly under kvm-run: a wide window
    lab.send_frames(trunk.name, "eth0", [frame for frame, _ in tagged_frames(trunk).values()])
    seen = b"".join(sniffer.frames())
    wrong = {name: marker in seen for name, (_, marker) in tagged_frames(trunk).items()
             if (marker in seen) != name.startswith("honest")}
    assert wrong == {}, f"arrived (True) or not (False) against expectations: {wrong}"
    verify = lab.program("snf-network", envs[a.tap], "verify", check=False)
    assert f"{a.tap}:" not in verify.stdout and f"{trunk.tap}:" not in verify.stdout, verify.stdout
    # VLAN 100 stays on the uplink while a NIC needs it; the operator's 300 stays for good.
    for vm in (a, b, trunk):
        lab.program("kvm-ifdown-custom", envs[vm.tap], vm.tap, "false")
        assert "master br0" not in lab.ns(lab.node, "ip", "-o", "link", "show", vm.tap).stdout
    assert 100 in vlans(lab, "up1")
    lab.program("kvm-ifdown-custom", envs[hybrid.tap], hybrid.tap, "false")
    assert 100 not in vlans(lab, "up1") and 200 in vlans(lab, "up1")
    for vm in (c, operators):
        lab.program("kvm-ifdown-custom", envs[vm.tap], vm.tap, "false")
    assert set(vlans(lab, "up1")) == {1, 300}
    assert not list((lab.workdir / "state").glob("tap*.json"))
    assert not list((lab.workdir / "state" / "uplink-vlans").glob("*"))
    # A bridge without VLAN filtering: the NIC is refused in one line, and nothing changes.
    result = lab.program("kvm-vif-bridge", env(lab, a, ".100", link="br1"), check=False)
    assert result.returncode == 2
    assert "VLAN: .100: bridge br1 does not filter VLANs (ip link set br1 type bridge vlan_filtering 1)" \
        in result.stderr
    assert "master" not in lab.ns(lab.node, "ip", "-o", "link", "show", a.tap).stdout
    assert not (lab.workdir / "state" / f"{a.tap}.json").exists()
