"""Routed (ip-less-routed) NICs against the real kernel, through the installed kvm-vif-bridge."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.lab import GATEWAY, GATEWAY6, TABLE, Lab, snapshot

pytestmark = pytest.mark.kernel

MAC = "aa:00:00:12:34:56"
IP = "192.0.2.10"
EUI64 = "2001:db8:1::a800:ff:fe12:3456"
EUI64_LONG = "2001:db8:1:0:a800:ff:fe12:3456"


def nothing_left(lab: Lab, tap: str) -> None:
    state = lab.node_state(tap)
    assert state["rules"] == []
    assert [route for route in state["routes"] if f"table {TABLE}" in route] == []
    assert state["proxies"] == []
    assert state["nft"] == []
    assert not (lab.workdir / "nfdhcpd" / tap).exists()
    assert not (lab.workdir / "state" / f"{tap}.json").exists()


def test_vm_reaches_upstream_and_back_over_ipv4_and_ipv6(lab: Lab) -> None:
    lab.build()
    vm = lab.add_vm(1, MAC)
    result = lab.program("kvm-vif-bridge", lab.ganeti_env(vm, ip=IP))
    assert result.returncode == 0 and result.stderr == ""
    lab.configure_vm(vm, IP, EUI64)
    assert lab.ping(vm.name, GATEWAY)
    assert lab.ping(lab.upstream, IP)
    assert lab.ping(vm.name, GATEWAY6)
    assert lab.ping(lab.upstream, EUI64)
    # The host's own ARP requests to the VM carry the gateway as sender.
    lab.ns(lab.node, "ip", "neigh", "flush", "dev", vm.tap)
    capture = lab.capture(vm.name, "eth0", "arp and arp[6:2] == 1")
    assert lab.ping(lab.upstream, IP, count=1)
    assert f"Request who-has {IP} tell {GATEWAY}" in capture.result()


def test_spoofed_sources_do_not_get_through(lab: Lab) -> None:
    lab.build()
    vm = lab.add_vm(1, MAC)
    lab.program("kvm-vif-bridge", lab.ganeti_env(vm, ip=IP))
    lab.configure_vm(vm, IP, EUI64)
    lab.ns(vm.name, "ip", "addr", "add", "192.0.2.99/32", "dev", "eth0")
    lab.ns(vm.name, "ip", "-6", "addr", "add", "2001:db8:1::99/128", "dev", "eth0", "nodad")
    # The real addresses work (and resolve the VM's router, so that what
    # follows is spoofed data, not neighbour discovery from a spoofed source)...
    assert lab.ping(vm.name, GATEWAY, source=IP)
    assert lab.ping(vm.name, GATEWAY6, source=EUI64)
    # ...the others do not, and our checks are what stopped them.
    assert not lab.ping(vm.name, GATEWAY, source="192.0.2.99", count=2)
    assert not lab.ping(vm.name, GATEWAY6, source="2001:db8:1::99", count=2)
    counters = lab.ns(lab.node, "nft", "list", "chain", "inet", "snf", "antispoof").stdout
    dropped = [line for line in counters.splitlines() if "drop" in line]
    assert all("packets 0 " not in line for line in dropped), counters


def test_ifdown_leaves_nothing_and_twice_is_harmless(lab: Lab) -> None:
    lab.build()
    vm = lab.add_vm(1, MAC)
    before = snapshot(lab)
    env = lab.ganeti_env(vm, ip=IP)
    lab.program("kvm-vif-bridge", env)
    assert lab.node_state(vm.tap)["proxies"] == [f"{EUI64_LONG} dev eth0 proxy "]
    down = {**env, "ACTION": "down"}
    lab.program("kvm-vif-bridge", down)
    nothing_left(lab, vm.tap)
    # Ganeti 3.2 calls down while the guest may still run: nothing of it passes unchecked.
    assert "state DOWN" in lab.ns(lab.node, "ip", "-o", "link", "show", vm.tap).stdout
    lab.program("kvm-vif-bridge", down)  # Ganeti 3.2 repeats down during a shutdown
    lab.program("kvm-ifdown-custom", env, vm.tap, "true")
    after = snapshot(lab)
    # Our tables stay (empty of this NIC); everything else is as before.
    assert {k: v for k, v in after.items() if k not in ("nft", "links")} == \
        {k: v for k, v in before.items() if k not in ("nft", "links")}
    assert "tap1" not in after["nft"]


def test_ifup_twice_is_the_same_as_once(lab: Lab) -> None:
    lab.build()
    vm = lab.add_vm(1, MAC)
    env = lab.ganeti_env(vm, ip=IP)
    lab.program("kvm-vif-bridge", env)
    once = snapshot(lab)
    record_once = json.loads((lab.workdir / "state" / "tap1.json").read_text())
    lab.program("kvm-vif-bridge", env)
    assert snapshot(lab) == once
    record_twice = json.loads((lab.workdir / "state" / "tap1.json").read_text())
    assert record_twice["items"] == record_once["items"]
    # The sysctl's value from before our first run is kept, not our own.
    proxy_arp = [item for item in record_twice["items"] if item.get("path", "").endswith("proxy_arp")]
    assert proxy_arp[0]["previous"] == "0"


def test_a_reused_tap_name_carries_nothing_of_the_previous_instance(lab: Lab) -> None:
    lab.build()
    vm = lab.add_vm(1, MAC)
    lab.program("kvm-vif-bridge", lab.ganeti_env(vm, ip=IP))
    # Ganeti gives tap1 to another instance without an ifdown (stock 2.x has none).
    other_mac, other_ip, other_eui64 = "aa:00:00:65:43:21", "192.0.2.20", "2001:db8:1:0:a800:ff:fe65:4321"
    lab.ns(vm.name, "ip", "link", "set", "eth0", "address", other_mac)
    vm.mac = other_mac
    env = lab.ganeti_env(vm, ip=other_ip, INSTANCE="other.example.org")
    lab.program("kvm-vif-bridge", env)
    state = lab.node_state(vm.tap)
    text = "\n".join(line for lines in state.values() for line in lines)
    assert IP not in text and EUI64_LONG not in text and "a800:ff:fe12:3456" not in text
    assert state["proxies"] == [f"{other_eui64} dev eth0 proxy "]
    assert any(other_ip in route for route in state["routes"])
    binding = (lab.workdir / "nfdhcpd" / "tap1").read_text()
    assert f"IP={other_ip}\n" in binding and "HOSTNAME=other.example.org\n" in binding
    lab.configure_vm(vm, other_ip, other_eui64)
    assert lab.ping(lab.upstream, other_ip)
    assert not lab.ping(lab.upstream, IP, count=1)


def nfdhcpd_parse(text: str) -> dict[str, str | None]:
    """nfdhcpd 0.17's BindingConfig.load, rule for rule (see docs/reference)."""
    keys = ["IP", "MAC", "HOSTNAME", "INDEV", "SUBNET", "GATEWAY", "SUBNET6", "GATEWAY6", "EUI64",
            "MACSPOOF", "MTU", "PRIVATE"]
    values: dict[str, str | None] = dict.fromkeys(keys)
    for line in text.splitlines(keepends=True):
        for key in keys:
            if line.startswith(f"{key}="):
                value = line.strip().split("=")[1]
                values[key] = value if value != "" else None
    if values["MTU"] is not None:
        int(values["MTU"])
    return values


def test_binding_file_reads_as_nfdhcpd_reads_it(lab: Lab) -> None:
    lab.build()
    vm = lab.add_vm(1, MAC)
    lab.program("kvm-vif-bridge", lab.ganeti_env(vm, ip=IP))
    path = lab.workdir / "nfdhcpd" / "tap1"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    parsed = nfdhcpd_parse(path.read_text())
    assert parsed == {
        "IP": IP, "MAC": MAC, "HOSTNAME": f"{vm.name}.example.org", "INDEV": "tap1",
        "SUBNET": "192.0.2.0/24", "GATEWAY": GATEWAY, "SUBNET6": "2001:db8:1::/64", "GATEWAY6": GATEWAY6,
        "EUI64": EUI64_LONG, "MACSPOOF": None, "MTU": "1500", "PRIVATE": None,  # MTU: the uplink eth0's
    }
    assert '"' not in path.read_text()


def test_without_ip_the_ipv4_part_is_skipped_and_default_routes_stay(lab: Lab) -> None:
    lab.build()
    vm = lab.add_vm(1, MAC)
    before = lab.ns(lab.node, "ip", "-4", "route", "show", "table", TABLE).stdout
    result = lab.program("kvm-vif-bridge", lab.ganeti_env(vm))
    assert result.returncode == 0
    assert lab.ns(lab.node, "ip", "-4", "route", "show", "table", TABLE).stdout == before
    assert "IPv4 skipped: IP not set" in (lab.workdir / "snf-network.log").read_text()
    # IPv6 still works; IPv4 from the VM (but DHCP) is dropped.
    lab.ns(vm.name, "ip", "-6", "addr", "add", f"{EUI64}/128", "dev", "eth0", "nodad")
    lab.ns(vm.name, "ip", "-6", "route", "add", "default", "via", "fe80::ce47:52ff:fe4e:4554", "dev", "eth0")
    assert lab.ping(lab.upstream, EUI64)


def test_extra_script_gets_the_nic_and_its_status_is_ifups(lab: Lab) -> None:
    lab.build()
    vm = lab.add_vm(1, MAC)
    script = lab.workdir / "ifup-extra"
    out = lab.workdir / "extra.out"
    script.write_text(f"#!/bin/sh\nenv > {out}\necho \"args=$*\" >> {out}\nexit ${{EXTRA_STATUS:-0}}\n")
    script.chmod(0o755)
    env = lab.ganeti_env(vm, ip=IP)
    lab.program("kvm-vif-bridge", env, vm.tap)
    seen = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    assert (seen["INTERFACE"], seen["TABLE"], seen["UPLINK"], seen["UPLINK6"]) == ("tap1", TABLE, "eth0", "eth0")
    assert seen["EUI64"] == EUI64_LONG and seen["args"] == "tap1"
    failed = lab.program("kvm-vif-bridge", {**env, "EXTRA_STATUS": "3"}, check=False)
    assert failed.returncode == 3
    nothing_left(lab, vm.tap)  # Ganeti will not start the VM: nothing of it stays


def test_communication_taps_get_the_communication_feature_only(lab: Lab) -> None:
    """No table rule, ARP mangling or proxy of the routed feature: tests/kernel/test_communication.py has the rest."""
    lab.build()
    vm = lab.add_vm(1, MAC, tap="gnt.com.0")
    lab.write_config(f"COMMUNICATION_DIR={lab.workdir}/communication\n")
    env = lab.ganeti_env(vm, ip="169.254.0.2", link="communication_rt", tags="ip-less-routed nfdhcpd",
                         INTERFACE_NAME=f"ganeti:communication:{vm.name}", NETWORK_SUBNET="169.254.0.0/16",
                         NETWORK_GATEWAY="", NETWORK_SUBNET6="fe80::/10", NETWORK_GATEWAY6="")
    # The operator's IFUP_EXTRA_SCRIPT is not run for it (it never was).
    extra = lab.workdir / "ifup-extra"
    extra.write_text("#!/bin/sh\nexit 3\n")
    extra.chmod(0o755)
    assert lab.program("kvm-vif-bridge", env).returncode == 0
    state = lab.node_state(vm.tap)
    assert state["rules"] == [] and state["proxies"] == [], state
    assert [route for route in state["routes"] if "proto static" in route] == [
        "169.254.0.2 dev gnt.com.0 proto static scope link "], state
    assert not (lab.workdir / "nfdhcpd" / vm.tap).exists()
    assert (lab.workdir / "communication" / "hosts").read_text().splitlines()[1:] == ["# gnt.com.0",
                                                                                     f"{MAC},169.254.0.2"]
    lab.program("kvm-vif-bridge", {**env, "ACTION": "down"})
    nothing_left(lab, vm.tap)
    assert (lab.workdir / "communication" / "hosts").read_text().splitlines()[1:] == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"MAC": "aa:00:00:12:34"}, "MAC: not a MAC address"),
        ({"IP": "192.0.2.256"}, "IP: not an IPv4 address"),
        ({"NETWORK_SUBNET": "192.0.2.0/33"}, "NETWORK_SUBNET: not an IPv4 subnet"),
        ({"NETWORK_GATEWAY": "198.51.100.1"}, "NETWORK_GATEWAY: outside NETWORK_SUBNET 192.0.2.0/24: '198.51.100.1'"),
        ({"LINK": "rt public"}, "LINK: not a valid routing table"),
        ({"LINK": "100;reboot"}, "LINK: not a valid routing table"),
        ({"LINK": "no_such_table"}, "LINK: routing table 'no_such_table' is unknown"),
        ({"INTERFACE": "tap0;reboot"}, "INTERFACE: not a valid interface name"),
        ({"INTERFACE": "tap7"}, "INTERFACE: tap7 does not exist"),
        # The node's own (checks.check_against_node; more in test_node_values.py).
        ({"INTERFACE": "eth0"}, "INTERFACE: an uplink of this node (a default route of table 100 goes through it)"),
        ({"INTERFACE": "lo"}, "INTERFACE: the loopback interface is no NIC's"),  # refused by its name alone
        ({"IP": "198.51.100.2", "NETWORK_SUBNET": None, "NETWORK_GATEWAY": None},
         "IP: an address of this node (on eth0): '198.51.100.2'"),
        ({"MODE": None}, "MODE: not set"),
        ({"INTERFACE": None}, "INTERFACE: not set"),
        ({"MODE": "ext"}, "ext NICs are not supported"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(lab: Lab, change: dict[str, str | None], message: str) -> None:
    lab.build()
    vm = lab.add_vm(1, MAC)
    lab.program("kvm-vif-bridge", lab.ganeti_env(vm, ip=IP))  # a healthy NIC, to stay untouched
    lab.add_vm(2, "aa:00:00:00:00:02")
    before = snapshot(lab)
    env = lab.ganeti_env(vm, ip=IP, INTERFACE="tap2", MAC="aa:00:00:00:00:02")
    env.update({key: value for key, value in change.items() if value is not None})
    for key in [key for key, value in change.items() if value is None]:
        del env[key]
    result = lab.program("kvm-vif-bridge", env, check=False)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert snapshot(lab) == before


def test_bad_config_is_one_line_and_changes_nothing(lab: Lab) -> None:
    lab.build()
    vm = lab.add_vm(1, MAC)
    lab.config_path.write_text(lab.config_path.read_text() + "AUTHENTICATION_METHOD=md5\n")
    before = snapshot(lab)
    result = lab.program("kvm-vif-bridge", lab.ganeti_env(vm, ip=IP), check=False)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "unknown authentication method" in result.stderr
    assert snapshot(lab) == before


def test_plan_works_without_root_and_changes_nothing(lab: Lab) -> None:
    lab.build()
    vm = lab.add_vm(1, MAC)
    before = snapshot(lab)
    # pytest's tmp_path is private to root: give the unprivileged run a readable copy of the config.
    public = Path(tempfile.mkdtemp())
    try:
        public.chmod(0o755)
        (public / "snf.conf").write_text(lab.config_path.read_text())
        env = lab.ganeti_env(vm, ip=IP, SNF_NETWORK_CONFIG=str(public / "snf.conf"))
        result = lab.ns(lab.node, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env",
                        *(f"{key}={value}" for key, value in env.items()), str(lab.program_path("snf-network")),
                        "plan")
    finally:
        shutil.rmtree(public)
    assert "tap1 of " in result.stdout and "proxy neighbour 2001:db8:1:0:a800:ff:fe12:3456 on eth0" in result.stdout
    assert "route replace 192.0.2.10/32 dev tap1 table 100" in result.stdout
    assert snapshot(lab) == before


def test_admin_up_status_down(lab: Lab) -> None:
    lab.build()
    vm = lab.add_vm(1, MAC)
    env = lab.ganeti_env(vm, ip=IP)
    assert lab.program("snf-network", env, "status").stdout == "no managed interfaces\n"
    lab.program("snf-network", env, "up")
    status = lab.program("snf-network", env, "status", "-v").stdout
    assert status.startswith(f"tap1: {vm.name}.example.org {MAC} routed 100 [routed, antispoof, firewall, nfdhcpd]")
    assert "  rule -4 iif tap1 lookup 100\n" in status
    lab.program("snf-network", env, "down", "tap1")
    nothing_left(lab, "tap1")
    bad = lab.program("snf-network", env, "down", "tap1;reboot", check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "not a valid interface name" in bad.stderr


def test_an_instance_restarted_on_another_tap_keeps_its_proxy_entry(lab: Lab) -> None:
    """Stock Ganeti: X stops (no ifdown) and starts again on tap2; Y then gets tap1."""
    lab.build()
    old_tap = lab.add_vm(1, MAC)
    lab.program("kvm-vif-bridge", lab.ganeti_env(old_tap, ip=IP))
    new_tap = lab.add_vm(2, MAC)
    new_tap.name = old_tap.name  # the same instance
    lab.program("kvm-vif-bridge", lab.ganeti_env(new_tap, ip=IP, INSTANCE=f"{old_tap.name}.example.org"))
    other = "aa:00:00:65:43:21"
    lab.program("kvm-vif-bridge", lab.ganeti_env(old_tap, ip="192.0.2.20", MAC=other, INSTANCE="y.example.org"))
    proxies = lab.node_state("tap2")["proxies"]
    assert f"{EUI64_LONG} dev eth0 proxy " in proxies
    assert "2001:db8:1:0:a800:ff:fe65:4321 dev eth0 proxy " in proxies
    lab.program("snf-network", lab.ganeti_env(new_tap), "down", "tap2")
    assert f"{EUI64_LONG} dev eth0 proxy " not in lab.node_state("tap2")["proxies"]


def test_a_failure_while_changing_the_host_leaves_nothing(lab: Lab) -> None:
    lab.build()
    vm = lab.add_vm(1, MAC)
    blocker = lab.workdir / "not-a-directory"
    blocker.write_text("")
    lab.write_config(f"NFDHCPD_STATE_DIR={blocker}/nfdhcpd\n")
    before = snapshot(lab)
    result = lab.program("kvm-vif-bridge", lab.ganeti_env(vm, ip=IP), check=False)
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1 and "not-a-directory" in result.stderr, result.stderr
    after = snapshot(lab)
    assert {k: v for k, v in after.items() if k not in ("nft", "links", "sysctl-tap1")} == \
        {k: v for k, v in before.items() if k not in ("nft", "links", "sysctl-tap1")}
    assert '"tap1"' not in after["nft"]
    assert lab.ns(lab.node, "cat", "/proc/sys/net/ipv4/conf/tap1/proxy_arp").stdout.strip() == "0"


def test_routed_guests_may_use_any_link_local_address(lab: Lab) -> None:
    lab.build()
    vm = lab.add_vm(1, MAC)
    lab.program("kvm-vif-bridge", lab.ganeti_env(vm, ip=IP))
    # Stable-privacy or random link-local addresses (Windows, NetworkManager).
    lab.ns(vm.name, "ip", "-6", "addr", "add", "fe80::1234:5678/64", "dev", "eth0", "nodad")
    lab.ns(vm.name, "ip", "-6", "addr", "del", "fe80::a800:ff:fe12:3456/64", "dev", "eth0")
    assert lab.ping(vm.name, "fe80::ce47:52ff:fe4e:4554%eth0")


def test_a_table_without_a_default_route_does_not_leak_into_the_main_table(lab: Lab) -> None:
    """Without its default route, table LINK's lookup falls through: the VM must get 'unreachable', not main."""
    lab.build()
    vm = lab.add_vm(1, MAC)
    lab.configure_vm(vm, IP, EUI64)
    lab.ns(lab.node, "ip", "route", "del", "default", "table", TABLE)
    lab.ns(lab.node, "ip", "-6", "route", "del", "default", "table", TABLE)
    # The node's main table reaches the upstream router directly (its eth0
    # subnet); with a route to the VM's gateway there too, proxy ARP answers.
    lab.ns(lab.node, "ip", "route", "add", f"{GATEWAY}/32", "dev", "eth0")
    lab.ns(lab.node, "ip", "link", "set", vm.tap, "up")
    lab.ns(lab.node, "sysctl", "-qw", f"net.ipv4.conf.{vm.tap}.proxy_arp=1")
    lab.ns(lab.node, "ip", "route", "add", f"{IP}/32", "dev", vm.tap, "table", "main")
    lab.ns(lab.node, "ip", "route", "add", f"{IP}/32", "dev", vm.tap, "table", TABLE)  # replies come in on eth0
    lab.ns(lab.upstream, "ip", "route", "replace", f"{IP}/32", "via", "198.51.100.2")
    assert lab.ping(vm.name, "198.51.100.1", count=1)  # the leak this test is about, before we manage the tap
    lab.ns(lab.node, "ip", "route", "del", f"{IP}/32", "dev", vm.tap, "table", "main")
    lab.ns(lab.node, "ip", "route", "del", f"{IP}/32", "dev", vm.tap, "table", TABLE)

    lab.program("kvm-vif-bridge", lab.ganeti_env(vm, ip=IP))
    lab.ns(lab.node, "ip", "route", "add", f"{IP}/32", "dev", vm.tap, "table", "main")  # replies could come back
    assert not lab.ping(vm.name, "198.51.100.1", count=1)
    rules = lab.ns(lab.node, "ip", "rule", "show").stdout
    assert f"iif {vm.tap} unreachable" in rules
    lab.ns(lab.node, "ip", "route", "del", f"{IP}/32", "dev", vm.tap, "table", "main")
    lab.program("kvm-vif-bridge", {**lab.ganeti_env(vm, ip=IP), "ACTION": "down"})
    nothing_left(lab, vm.tap)
    assert f"iif {vm.tap}" not in lab.ns(lab.node, "ip", "rule", "show").stdout


RECEIVE_67 = """
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("0.0.0.0", 67))
sock.settimeout(2)
print("ready", flush=True)
try:
    while True:
        print(sock.recv(2048)[4:8].hex(), flush=True)
except TimeoutError:
    pass
"""


def test_a_vm_cannot_pass_as_a_dhcp_relay_agent(lab: Lab) -> None:
    """A DHCP server on the node answers a request with giaddr set at giaddr:67, as if a relay had sent it.

    Another VM's address there would have the server send that VM a packet
    the first one chose (its xid, its option 82); a VM is a client, never a relay.
    """
    scapy = pytest.importorskip("scapy.all", reason="scapy is not installed (tools/setup.sh installs python3-scapy)")
    lab.build()
    vm = lab.add_vm(1, MAC)
    # Not nfdhcpd's (it takes DHCP before the input chain): snf-dhcpd's place, or any server's on the node.
    assert lab.program("kvm-vif-bridge", lab.ganeti_env(vm, ip=IP, tags="ip-less-routed")).returncode == 0
    chaddr = bytes.fromhex(MAC.replace(":", "")) + bytes(10)
    frames = [(scapy.Ether(src=MAC, dst="ff:ff:ff:ff:ff:ff") / scapy.IP(src=source, dst="255.255.255.255")
               / scapy.UDP(sport=sport, dport=67) / scapy.BOOTP(op=1, xid=xid, giaddr=giaddr, chaddr=chaddr)
               / scapy.DHCP(options=[("message-type", "discover"), "end"]))
              for xid, source, sport, giaddr in ((0x11111111, "0.0.0.0", 68, "0.0.0.0"),
                                                 (0x22222222, IP, 67, "192.0.2.11"),
                                                 (0x33333333, "0.0.0.0", 68, "192.0.2.11"))]
    server = subprocess.Popen(["ip", "netns", "exec", lab.node, sys.executable, "-c", RECEIVE_67],
                              stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None and server.stdout.readline().strip() == "ready"
    lab.send_frames(vm.name, "eth0", [bytes(frame) for frame in frames])
    received, _ = server.communicate(timeout=10)
    assert received.split() == ["11111111"]
