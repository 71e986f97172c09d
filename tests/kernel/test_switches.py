"""``snf-network switch apply|show`` and the network-connect hook, against the real kernel and Open vSwitch.

Linux bridges and Open vSwitch (userspace datapath) run here; bonds and
VLAN-filtering bridges need Debian's kernel (tests/kernel/test_debian_kernel.py
runs those under kvm-run) and skip here with the reason.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import ovs_switch
from tests.lab import Lab, sh

pytestmark = pytest.mark.kernel

HOOK_ENV = {"GANETI_HOOKS_PHASE": "post", "GANETI_HOOKS_PATH": "network-connect", "GANETI_GROUP_NAME": "default"}


def switch_lab(lab: Lab, text: str, *uplinks: str) -> Path:
    """A node whose SWITCHES_FILE holds ``text``, with veth ``uplinks`` to the upstream namespace."""
    path = lab.workdir / "switches"
    path.write_text(text)
    lab.build(routed=False, extra_config=f"SWITCHES_FILE={path}\nOVS_DB=unix:{lab.workdir}/db.sock\n")
    for number, uplink in enumerate(uplinks, start=1):
        sh("ip", "link", "add", uplink, "netns", lab.node, "type", "veth", "peer", "name", f"up{number}",
           "netns", lab.upstream)
        lab.ns(lab.upstream, "ip", "link", "set", f"up{number}", "up")
    return path


def env_of(lab: Lab, **extra: str) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin:/sbin:/usr/sbin", "SNF_NETWORK_CONFIG": str(lab.config_path),
            **extra}


def switch(lab: Lab, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return lab.program("snf-network", env_of(lab), "switch", *args, check=check)


def links(lab: Lab) -> str:
    return lab.ns(lab.node, "ip", "-o", "link", "show").stdout


def master_of(lab: Lab, dev: str) -> str:
    words = lab.ns(lab.node, "ip", "-o", "link", "show", dev).stdout.split()
    return words[words.index("master") + 1] if "master" in words else ""


def test_a_linux_bridge_with_an_uplink_is_made_once_and_removed_when_no_longer_declared(lab: Lab) -> None:
    path = switch_lab(lab, "[br7]\ntype = linux-bridge\nuplink = eth1\nmtu = 1400\n", "eth1")
    dry = switch(lab, "apply", "--dry-run")
    assert "would make br7: linux bridge br7" in dry.stdout and "br7" not in links(lab)
    made = switch(lab, "apply")
    assert "made br7: eth1 in bridge br7" in made.stdout
    assert master_of(lab, "eth1") == "br7" and "mtu 1400" in lab.ns(lab.node, "ip", "link", "show", "eth1").stdout
    assert "mtu 1400" in lab.ns(lab.node, "ip", "link", "show", "br7").stdout
    before = links(lab)
    again = switch(lab, "apply")
    assert again.stdout.strip() == "nothing to change" and links(lab) == before
    # Real frames cross it: the node's address on the bridge reaches upstream.
    lab.ns(lab.node, "ip", "addr", "add", "203.0.113.2/24", "dev", "br7")
    lab.ns(lab.upstream, "ip", "addr", "add", "203.0.113.1/24", "dev", "up1")
    assert lab.ping(lab.node, "203.0.113.1")
    shown = switch(lab, "show").stdout
    assert "br7 (linux-bridge) uplink eth1 mtu 1400" in shown and "ok      eth1 in bridge br7 (recorded)" in shown
    assert lab.program("snf-network", env_of(lab), "verify").returncode == 0
    # Someone takes the uplink out: show and verify say so, apply puts it back.
    lab.ns(lab.node, "ip", "link", "set", "eth1", "nomaster")
    assert "missing eth1 in bridge br7" in switch(lab, "show").stdout
    verify = lab.program("snf-network", env_of(lab), "verify", check=False)
    assert verify.returncode == 1 and "switch br7: missing eth1 in bridge br7" in verify.stdout
    assert "made br7: eth1 in bridge br7" in switch(lab, "apply").stdout and master_of(lab, "eth1") == "br7"
    # Declared no more: what apply made goes, the uplink's MTU comes back.
    path.write_text("# nothing\n")
    removed = switch(lab, "apply").stdout
    assert "removed br7: linux bridge br7" in removed
    assert "br7" not in links(lab) and "mtu 1500" in lab.ns(lab.node, "ip", "link", "show", "eth1").stdout
    assert (lab.workdir / "state" / "switches.record").read_text().split() == ["{", '"steps":', "[]", "}"]


def test_a_bridge_that_was_there_or_still_has_ports_is_never_deleted(lab: Lab) -> None:
    path = switch_lab(lab, "[br8]\ntype = linux-bridge\nuplink = eth1\n[br9]\ntype = linux-bridge\n", "eth1")
    lab.bridge("br8")  # the operator's own
    switch(lab, "apply")
    assert master_of(lab, "eth1") == "br8" and "br9" in links(lab)
    vm = lab.add_vm(1, "aa:00:00:00:00:01")
    lab.ns(lab.node, "ip", "link", "set", vm.tap, "master", "br9")  # an instance's tap on br9
    path.write_text("")
    result = switch(lab, "apply").stdout
    assert "kept bridge br9: it still has ports (tap1)" in result
    assert "br8" in links(lab) and "br9" in links(lab) and master_of(lab, "eth1") == ""


def test_a_kept_bridge_stays_recorded_and_goes_once_its_last_port_left(lab: Lab) -> None:
    path = switch_lab(lab, "[br9]\ntype = linux-bridge\n")
    switch(lab, "apply")
    vm = lab.add_vm(1, "aa:00:00:00:00:01")
    lab.ns(lab.node, "ip", "link", "set", vm.tap, "master", "br9")
    path.write_text("")
    first = switch(lab, "apply").stdout
    assert "kept bridge br9" in first and "removed br9" not in first
    assert "br9: linux bridge br9" in switch(lab, "show").stdout  # recorded, to be removed
    assert switch(lab, "apply").stdout.count("kept bridge br9") == 1  # tried again, still in use
    lab.ns(lab.node, "ip", "link", "set", vm.tap, "nomaster")
    assert "removed br9: linux bridge br9" in switch(lab, "apply").stdout and "br9" not in links(lab)
    assert '"steps": []' in (lab.workdir / "state" / "switches.record").read_text()


def test_an_uplink_already_in_the_operator_s_bridge_is_never_taken_out(lab: Lab) -> None:
    # With a second switch that fails at apply time (br2 is a veth): the rollback leaves br9's eth1 alone.
    path = switch_lab(lab, "[br9]\ntype = linux-bridge\nuplink = eth1\n[br2]\ntype = linux-bridge\n", "eth1", "br2")
    lab.bridge("br9")
    lab.ns(lab.node, "ip", "link", "set", "eth1", "master", "br9")
    failed = switch(lab, "apply", check=False)
    assert failed.returncode != 0 and "br2 exists and is not a bridge" in failed.stderr
    assert master_of(lab, "eth1") == "br9"
    path.write_text("[br9]\ntype = linux-bridge\nuplink = eth1\n")
    switch(lab, "apply")
    path.write_text("")
    result = switch(lab, "apply").stdout
    assert "forgot br9: eth1 in bridge br9 (there before: left as it is)" in result and "removed" not in result
    assert master_of(lab, "eth1") == "br9" and "br9" in links(lab)


@pytest.mark.parametrize(("text", "message"), [
    ("[br0]\nuplink = eth1\n", "type: expected linux-bridge or openvswitch"),
    ("[br0]\ntype = linux-bridge\nuplink = eth1\nbond = bond0\nmembers = eth2\n", "an uplink or a bond, not both"),
    ("[br0]\ntype = linux-bridge\nbond = bond0\nmembers = eth2\nbond-mode = balance-tcp\n", "bond-mode: expected"),
    ("[br0]\ntype = linux-bridge\nuplink = eth1\nvlans = 0\n", "VLAN ids go from 1 to 4094"),
    ("[br0]\ntype = linux-bridge\nuplink = eth1; reboot\n", "plain words only"),
    ("[br0]\ntype = linux-bridge\nuplink = eth9\n", "eth9 does not exist on this node"),
    ("[br0]\ntype = linux-bridge\nuplink = eth1\n[br1]\ntype = linux-bridge\nuplink = eth1\n",
     "eth1 is a port of both br0 and br1"),
])
def test_a_bad_switches_file_is_one_line_and_changes_nothing(lab: Lab, text: str, message: str) -> None:
    switch_lab(lab, text, "eth1")
    before = links(lab)
    result = switch(lab, "apply", check=False)
    assert result.returncode == 2 and message in result.stderr and len(result.stderr.splitlines()) == 1, result
    assert links(lab) == before and not (lab.workdir / "state" / "switches.record").exists()


def test_the_network_connect_hook_brings_a_declared_bridge_up_and_disconnect_keeps_it(lab: Lab) -> None:
    switch_lab(lab, "[br5]\ntype = linux-bridge\nuplink = eth1\n", "eth1")
    connect = {**HOOK_ENV, "GANETI_OP_CODE": "OP_NETWORK_CONNECT", "GANETI_GROUP_NETWORK_MODE": "bridged",
               "GANETI_GROUP_NETWORK_LINK": "br5", "GANETI_GROUP_NETWORK_VLAN": ""}
    pre = lab.program("snf-network-switch-hook", env_of(lab, **{**connect, "GANETI_HOOKS_PHASE": "pre"}))
    assert pre.returncode == 0 and "br5" not in links(lab)
    lab.program("snf-network-switch-hook", env_of(lab, **{**connect, "GANETI_GROUP_NETWORK_VLAN": ".100"}))
    assert master_of(lab, "eth1") == "br5"
    assert "br5: VLAN 100 of the network is not trunked on its uplink eth1" in \
        (lab.workdir / "snf-network.log").read_text()
    disconnect = {**connect, "GANETI_OP_CODE": "OP_NETWORK_DISCONNECT", "GANETI_HOOKS_PATH": "network-disconnect"}
    lab.program("snf-network-switch-hook", env_of(lab, **disconnect))
    assert master_of(lab, "eth1") == "br5"
    # A network on a bridge nobody declared, which the node lacks: logged, exit 0.
    other = lab.program("snf-network-switch-hook", env_of(lab, **{**connect, "GANETI_GROUP_NETWORK_LINK": "br6"}))
    assert other.returncode == 0 and "br6 does not exist on this node" in \
        (lab.workdir / "snf-network.log").read_text()
    bad = lab.program("snf-network-switch-hook", env_of(lab, **{**connect, "GANETI_GROUP_NETWORK_LINK": "a b"}))
    assert bad.returncode == 0 and "GANETI_GROUP_NETWORK_LINK: not a valid interface name" in bad.stderr


# -- Open vSwitch (userspace datapath) -----------------------------------------------------------------

@pytest.fixture
def ovs_lab(lab: Lab) -> Iterator[Lab]:
    if ovs_switch.missing():
        pytest.skip(ovs_switch.missing())
    yield lab
    ovs_switch.Switches(lab, lab.workdir).stop()


def start_ovs(lab: Lab) -> ovs_switch.Switches:
    """Open vSwitch (userspace datapath) at the OVS_DB that switch_lab configured."""
    switches = ovs_switch.Switches(lab, lab.workdir)
    switches.start()
    return switches


def test_an_ovs_switch_with_a_trunk_uplink_and_an_lacp_bond(ovs_lab: Lab) -> None:
    lab = ovs_lab
    path = switch_lab(lab, "[ovs0]\ntype = openvswitch\ndatapath = netdev\nuplink = eth1\nvlans = 100 200-201\n"
                           "[ovs1]\ntype = openvswitch\ndatapath = netdev\nbond = bond1\nmembers = eth2 eth3\n"
                           "bond-mode = 802.3ad\n", "eth1", "eth2", "eth3")
    vsctl = start_ovs(lab).vsctl

    switch(lab, "apply")
    assert vsctl("port-to-br", "eth1") == "ovs0" and vsctl("get", "port", "eth1", "trunks") == "[100, 200, 201]"
    assert vsctl("get", "port", "eth1", "external_ids:snf-network-switch") == "ovs0"
    assert vsctl("get", "bridge", "ovs0", "datapath_type") == "netdev"
    assert vsctl("get", "port", "bond1", "bond_mode") == "balance-tcp" and vsctl("get", "port", "bond1", "lacp") \
        == "active"
    assert sorted(vsctl("--columns=name", "--bare", "list", "interface").split()) == \
        ["eth1", "eth2", "eth3", "ovs0", "ovs1"]
    for _ in range(50):  # vswitchd opened the uplink (an ofport), so it is really on the switch
        if vsctl("get", "interface", "eth1", "ofport") not in ("[]", "-1"):
            break
        time.sleep(0.1)
    assert vsctl("get", "interface", "eth1", "ofport") not in ("[]", "-1")
    assert switch(lab, "apply").stdout.strip() == "nothing to change"
    # A VLAN less in the file: the trunk follows; a switch less: its bridge and bond go.
    path.write_text("[ovs0]\ntype = openvswitch\ndatapath = netdev\nuplink = eth1\nvlans = 100\n")
    assert "changed ovs0: ovs port eth1 on ovs0, trunks 100" in switch(lab, "apply").stdout
    assert vsctl("get", "port", "eth1", "trunks") == "[100]" and vsctl("list-br").split() == ["ovs0"]
    path.write_text("")
    switch(lab, "apply")
    assert vsctl("list-br") == ""
    # An openvswitch network connected to the group: the hook brings its switch up.
    path.write_text("[ovs2]\ntype = openvswitch\ndatapath = netdev\nuplink = eth1\n")
    lab.program("snf-network-switch-hook", env_of(lab, **HOOK_ENV, GANETI_OP_CODE="OP_NETWORK_CONNECT",
                                                  GANETI_GROUP_NETWORK_MODE="openvswitch",
                                                  GANETI_GROUP_NETWORK_LINK="ovs2", GANETI_GROUP_NETWORK_VLAN=".100"))
    assert vsctl("port-to-br", "eth1") == "ovs2"
    # No vlans declared: the port's trunks are [], which OVS takes as every VLAN, 100 included.
    assert vsctl("get", "port", "eth1", "trunks") == "[]"
    assert "not trunked" not in (lab.workdir / "snf-network.log").read_text()


# -- Under Debian's kernel only (bonding, VLAN filtering) ----------------------------------------------

def needs(lab: Lab, kind: str, *extra: str) -> None:
    result = lab.ns(lab.node, "ip", "link", "add", "probe0", "type", kind, *extra, check=False)
    if result.returncode != 0:
        pytest.skip(f"this kernel has no {kind} {' '.join(extra)} ({result.stderr.strip()}): "
                    "runs under Debian's kernel (tests/kernel/test_debian_kernel.py)")
    lab.ns(lab.node, "ip", "link", "del", "probe0")


def test_bonds_and_vlan_trunks_carry_traffic_and_go_when_no_longer_declared(lab: Lab) -> None:
    """One apply for all (Python is slow under emulation): an active-backup bond, an 802.3ad bond, a VLAN trunk."""
    path = switch_lab(lab, "[br3]\ntype = linux-bridge\nbond = bond0\nmembers = eth2 eth3\nmtu = 1400\n"
                           "[br4]\ntype = linux-bridge\nbond = bond1\nmembers = eth4 eth5\nbond-mode = 802.3ad\n"
                           "[br5]\ntype = linux-bridge\nuplink = eth1\nvlans = 100\n",
                      "eth1", "eth2", "eth3", "eth4", "eth5")
    needs(lab, "bond")
    needs(lab, "bridge", "vlan_filtering", "1")
    # Upstream: a bond of the same mode over each pair of peers, and VLAN 100 on the trunk's peer.
    for command in ("ip link add bondu type bond mode active-backup miimon 100",
                    "ip link add bondv type bond mode 802.3ad miimon 100",
                    *(f"ip link set up{n} down" for n in (2, 3, 4, 5)),
                    "ip link set up2 master bondu", "ip link set up3 master bondu",
                    "ip link set up4 master bondv", "ip link set up5 master bondv",
                    "ip link set bondu mtu 1400 up", "ip link set bondv up",
                    "ip link add link up1 name up1.100 type vlan id 100", "ip link set up1.100 up",
                    "ip addr add 203.0.113.1/26 dev bondu", "ip addr add 203.0.113.65/26 dev bondv",
                    "ip addr add 203.0.113.129/26 dev up1.100"):
        lab.ns(lab.upstream, *command.split())
    switch(lab, "apply")
    assert [master_of(lab, dev) for dev in ("eth2", "eth3", "bond0", "eth4", "eth5", "bond1", "eth1")] == \
        ["bond0", "bond0", "br3", "bond1", "bond1", "br4", "br5"]
    assert "fault-tolerance (active-backup)" in lab.ns(lab.node, "cat", "/proc/net/bonding/bond0").stdout
    assert "mtu 1400" in lab.ns(lab.node, "ip", "link", "show", "eth2").stdout
    assert lab.ns(lab.node, "cat", "/sys/class/net/br5/bridge/vlan_filtering").stdout.strip() == "1"
    assert "100" in lab.ns(lab.node, "bridge", "vlan", "show", "dev", "eth1").stdout
    lab.ns(lab.node, "ip", "addr", "add", "203.0.113.2/26", "dev", "br3")
    lab.ns(lab.node, "ip", "addr", "add", "203.0.113.66/26", "dev", "br4")
    # A VM's access port on VLAN 100 of br5 (what a VLAN NIC's ifup does) reaches VLAN 100 upstream.
    vm = lab.add_vm(1, "aa:00:00:00:00:01")
    lab.ns(lab.node, "ip", "link", "set", vm.tap, "master", "br5", "up")
    lab.ns(lab.node, "bridge", "vlan", "add", "dev", vm.tap, "vid", "100", "pvid", "untagged")
    lab.ns(lab.node, "bridge", "vlan", "del", "dev", vm.tap, "vid", "1")
    lab.ns(vm.name, "ip", "addr", "add", "203.0.113.130/26", "dev", "eth0")
    assert lab.ping(vm.name, "203.0.113.129", count=1)
    assert lab.ping(lab.node, "203.0.113.1", count=1)
    # The active member's cable cut: the other one takes over.
    active = lab.ns(lab.node, "cat", "/sys/class/net/bond0/bonding/active_slave").stdout.strip()
    lab.ns(lab.node, "ip", "link", "set", active, "down")
    # The bond's miimon (100 ms) notices and fails over: waited for, not slept for (under kvm-run's
    # emulation, or on a loaded machine, 0.5 s was a guess), then the one echo must get through.
    deadline = time.monotonic() + 10
    while lab.ns(lab.node, "cat", "/sys/class/net/bond0/bonding/active_slave").stdout.strip() in (active, "") \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lab.ping(lab.node, "203.0.113.1", count=1)
    # LACP has to agree with the upstream bond first (seconds, under emulation).
    deadline = time.monotonic() + 30
    while not lab.ping(lab.node, "203.0.113.65", count=1) and time.monotonic() < deadline:
        time.sleep(0.5)
    bonding = lab.ns(lab.node, "cat", "/proc/net/bonding/bond1").stdout
    upstream_mac = lab.ns(lab.upstream, "cat", "/sys/class/net/bondv/address").stdout.strip()
    assert "IEEE 802.3ad Dynamic link aggregation" in bonding and f"Partner Mac Address: {upstream_mac}" in bonding
    assert lab.ping(lab.node, "203.0.113.65", count=1)
    lab.ns(lab.node, "ip", "link", "set", vm.tap, "nomaster")
    path.write_text("")
    switch(lab, "apply")
    assert not {"bond0", "bond1", "br3", "br4", "br5"} & set(links(lab).replace(":", " ").split())
    assert "mtu 1500" in lab.ns(lab.node, "ip", "link", "show", "eth2").stdout and master_of(lab, "eth4") == ""


def test_an_ovs_port_the_operator_added_is_refused_and_left_as_it_was(ovs_lab: Lab) -> None:
    lab = ovs_lab
    path = switch_lab(lab, "[ovs0]\ntype = openvswitch\ndatapath = netdev\nuplink = eth1\nvlans = 100\n", "eth1")
    vsctl = start_ovs(lab).vsctl

    vsctl("add-br", "ovs0", "--", "set", "bridge", "ovs0", "datapath_type=netdev")
    vsctl("add-port", "ovs0", "eth1", "--", "set", "port", "eth1", "trunks=[5]")
    result = switch(lab, "apply", check=False)
    assert result.returncode != 0 and len(result.stderr.splitlines()) == 1, result
    assert "port eth1 is already on ovs0, not added by switch apply" in result.stderr
    assert vsctl("get", "port", "eth1", "trunks") == "[5]" and vsctl("port-to-br", "eth1") == "ovs0"
    path.write_text("")
    switch(lab, "apply")
    assert vsctl("port-to-br", "eth1") == "ovs0" and vsctl("list-br") == "ovs0"


def test_a_changed_ovs_mtu_changes_the_switch_in_place(ovs_lab: Lab) -> None:
    lab = ovs_lab
    path = switch_lab(lab, "[ovs0]\ntype = openvswitch\ndatapath = netdev\nuplink = eth1\nmtu = 1400\n", "eth1")
    vsctl = start_ovs(lab).vsctl

    switch(lab, "apply")
    vsctl("set", "bridge", "ovs0", "other_config:stp-priority=4096")
    port, bridge = vsctl("get", "port", "eth1", "_uuid"), vsctl("get", "bridge", "ovs0", "_uuid")
    path.write_text("[ovs0]\ntype = openvswitch\ndatapath = netdev\nuplink = eth1\nmtu = 1450\n")
    switch(lab, "apply")
    assert vsctl("get", "port", "eth1", "_uuid") == port and vsctl("get", "bridge", "ovs0", "_uuid") == bridge
    assert vsctl("get", "interface", "eth1", "mtu_request") == "1450"
    assert vsctl("get", "bridge", "ovs0", "other_config:stp-priority") == '"4096"'
    record = (lab.workdir / "state" / "switches.record").read_text()
    assert '"previous": "created"' in record and "existed" not in record
    path.write_text("")
    switch(lab, "apply")
    assert vsctl("list-br") == ""


def test_an_ovs_switch_named_like_a_kernel_device_is_refused_and_shown_missing(ovs_lab: Lab) -> None:
    lab = ovs_lab
    path = switch_lab(lab, "[ovs5]\ntype = openvswitch\ndatapath = netdev\n")
    vsctl = start_ovs(lab).vsctl
    lab.ns(lab.node, "ip", "link", "add", "ovs5", "type", "veth", "peer", "name", "ovs5p")
    lab.ns(lab.node, "ip", "link", "add", "ovs6", "type", "veth", "peer", "name", "ovs6p")
    result = switch(lab, "apply", check=False)
    assert result.returncode != 0 and "ovs5 exists on this node and is not an OVS bridge" in result.stderr
    assert vsctl("list-br") == ""
    # One OVSDB has although vswitchd could not open it: show says missing, not ok.
    vsctl("add-br", "ovs6", "--", "set", "bridge", "ovs6", "datapath_type=netdev")
    path.write_text("[ovs6]\ntype = openvswitch\ndatapath = netdev\n")
    assert "missing ovs bridge ovs6" in switch(lab, "show").stdout
