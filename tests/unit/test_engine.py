"""The engine through a recording Host: stale items, rollback at each step, shared proxy entries.

No root, no kernel: what the engine asks of the host is recorded (tests/unit/hosts.py),
and the kernel tests check that the same requests do the real thing.
"""

from __future__ import annotations

import json

import pytest

from snf_network import config, engine, record
from snf_network import nic as nic_module
from snf_network.errors import InputError, SnfNetworkError
from tests.unit.hosts import RecordingHost

TAGS = "ip-less-routed nfdhcpd"


@pytest.fixture
def cfg(tmp_path):
    return config.from_text(f"STATE_DIR={tmp_path}/state\nLOCK_FILE={tmp_path}/lock\nLOGFILE=\nSYSLOG=no\n"
                            f"NFDHCPD_STATE_DIR={tmp_path}/nfdhcpd\nFIREWALL_PROFILES=\n")


@pytest.fixture
def host():
    host = RecordingHost()
    host.add_link("tap1")
    host.add_link("tap2")
    host.routes = {(4, "100"): ("eth0",), (6, "100"): ("eth0",)}
    return host


def routed(tap: str = "tap1", ip: str = "192.0.2.10", mac: str = "aa:00:00:00:00:01", instance: str = "vm1"):
    return nic_module.from_env({
        "INSTANCE": instance, "INTERFACE": tap, "MAC": mac, "MODE": "routed", "LINK": "100", "IP": ip,
        "NETWORK_SUBNET": "192.0.2.0/24", "NETWORK_GATEWAY": "192.0.2.1", "NETWORK_SUBNET6": "2001:db8:1::/64",
        "NETWORK_TAGS": TAGS,
    })


def test_ifup_sends_one_nft_transaction_and_one_batch_per_family(host, cfg) -> None:
    engine.ifup(host, routed(), cfg)
    assert len(host.nft_scripts()) == 1  # the ruleset is there: the fast path (marker flush + elements)
    assert 'add element inet snf ip4_ok { "tap1" . 192.0.2.10 }' in host.nft_scripts()[0]
    assert "route replace 192.0.2.10/32 dev tap1 table 100 proto static" in host.ip_batches(4)[0]
    assert "rule add iif tap1 lookup 100" in host.ip_batches(6)[0]
    assert host.sysctls["net/ipv4/conf/tap1/proxy_arp"] == "1"
    assert host.proxies == {("2001:db8:1:0:a800:ff:fe00:1", "eth0")}
    saved = record.load(host, cfg, "tap1")
    assert saved is not None and saved.complete
    assert host.announced == [("arp", "192.0.2.10", "eth0"), ("ndp", "2001:db8:1:0:a800:ff:fe00:1", "eth0")]


def test_a_second_ifup_changes_only_what_differs(host, cfg) -> None:
    engine.ifup(host, routed(ip="192.0.2.10"), cfg)
    host.commands.clear()
    engine.ifup(host, routed(ip="192.0.2.11"), cfg)
    script = host.nft_scripts()[0]
    assert 'delete element inet snf ip4_ok { "tap1" . 192.0.2.10 }' in script
    assert 'add element inet snf ip4_ok { "tap1" . 192.0.2.11 }' in script
    batch = host.ip_batches(4)[0]
    assert batch.index("route del 192.0.2.10/32") < batch.index("route replace 192.0.2.11/32")
    # Unchanged items are applied again (idempotent), never removed.
    assert "rule del iif tap1 lookup 100\nrule add" in batch


def test_the_pending_record_holds_the_previous_sysctl_values(host, cfg, tmp_path) -> None:
    """A kill after the first save must leave enough to put proxy_arp back."""
    host.fail_when = lambda argv, stdin: argv[:2] == ["nft", "-f"]
    saved: list[str] = []
    original = host.write

    def spy(path: str, content: str, mode: int = 0o644) -> None:
        saved.append(content)
        original(path, content, mode)

    host.write = spy  # type: ignore[method-assign]
    with pytest.raises(SnfNetworkError):
        engine.ifup(host, routed(), cfg)
    pending = json.loads(saved[0])
    assert pending["complete"] is False
    sysctls = {item["path"]: item["previous"] for item in pending["items"] if item["kind"] == "sysctl"}
    assert sysctls["net/ipv4/conf/tap1/proxy_arp"] == "0"
    assert sysctls["net/ipv4/neigh/tap1/proxy_delay"] == "80"


def _once(prefix: list[str]):
    """Fails the NIC's additions through ``prefix`` (and nft's reloads that carry them), lets the undo through.

    A fault during the change, not a broken host: the undo must then leave nothing.
    """
    seen = {"failed": False}

    def fail(argv: list[str], stdin: str) -> bool:
        if argv[: len(prefix)] != prefix or (seen["failed"] and "delete element" in stdin):
            return False
        if seen["failed"] and "add element" not in stdin:
            return False
        seen["failed"] = True
        return True

    return fail


FAILURES = {
    "nft": lambda host: setattr(host, "fail_when", _once(["nft", "-f"])),
    "ip -4": lambda host: setattr(host, "fail_when", _once(["ip", "-force"])),
    "ip -6": lambda host: setattr(host, "fail_when", _once(["ip", "-6"])),
    "proxy": lambda host: setattr(host, "fail_proxy", True),
    "binding": lambda host: setattr(host, "write_in_place", _no_space),
    "final record": lambda host: setattr(host, "fail_write", _second_record_write()),
}


def _no_space(path: str, content: str, mode: int = 0o644) -> None:
    raise OSError(28, "No space left on device", path)


def _second_record_write():
    writes = {"records": 0}

    def fail(path: str) -> bool:
        if path.endswith("tap1.json"):
            writes["records"] += 1
            return writes["records"] == 2
        return False

    return fail


@pytest.mark.parametrize("step", sorted(FAILURES))
def test_a_failure_at_any_step_leaves_nothing_of_the_nic(host, cfg, step) -> None:
    before = dict(host.sysctls)
    FAILURES[step](host)
    with pytest.raises(SnfNetworkError):
        engine.ifup(host, routed(), cfg)
    assert record.load(host, cfg, "tap1") is None
    assert host.sysctls == before
    assert host.proxies == set()
    host.fail_when = lambda argv, stdin: False
    # Whatever was added was removed again: the last nft and ip runs undo the NIC.
    removals = [script for script in host.nft_scripts() if "delete element" in script]
    if step != "nft":
        assert removals and 'delete element inet snf ip4_ok { "tap1" . 192.0.2.10 }' in removals[-1]
    assert any("route del 192.0.2.10/32 dev tap1 table 100" in batch for batch in host.ip_batches(4))


def test_removal_goes_on_past_a_failing_step_and_keeps_the_record(host, cfg) -> None:
    engine.ifup(host, routed(), cfg)
    host.fail_when = lambda argv, stdin: argv[:2] == ["nft", "-f"]
    with pytest.raises(SnfNetworkError, match="the record is kept"):
        engine.ifdown(host, cfg, "tap1")
    # The links, routes, proxies and sysctls went although nft failed.
    assert host.proxies == set()
    assert host.sysctls["net/ipv4/conf/tap1/proxy_arp"] == "0"
    kept = record.load(host, cfg, "tap1")
    assert kept is not None and not kept.complete
    host.fail_when = lambda argv, stdin: False
    assert engine.ifdown(host, cfg, "tap1")
    assert record.load(host, cfg, "tap1") is None


def test_a_proxy_entry_claimed_by_a_new_tap_survives_the_old_tap_s_undo(host, cfg) -> None:
    # The instance restarted on tap2 before tap1's record was undone (stock Ganeti runs no ifdown).
    engine.ifup(host, routed("tap1"), cfg)
    engine.ifup(host, routed("tap2"), cfg)
    entry = ("2001:db8:1:0:a800:ff:fe00:1", "eth0")
    del host.links["tap1"]
    assert engine.ifdown(host, cfg, "tap1")
    assert entry in host.proxies
    assert engine.ifdown(host, cfg, "tap2")
    assert entry not in host.proxies


def test_a_record_is_trusted_only_for_the_interface_it_names(host, cfg, tmp_path) -> None:
    engine.ifup(host, routed("tap1"), cfg)
    state = tmp_path / "state"
    (state / "tap2.json").write_text((state / "tap1.json").read_text())
    with pytest.raises(SnfNetworkError, match="describes tap1, not tap2"):
        engine.ifdown(host, cfg, "tap2")
    assert [entry.interface for entry in record.load_all(host, cfg)] == ["tap1"]


def test_a_symlink_in_place_of_a_record_is_refused(host, cfg, tmp_path) -> None:
    engine.ifup(host, routed("tap1"), cfg)
    target = tmp_path / "elsewhere"
    target.write_text("precious\n")
    (tmp_path / "state" / "tap2.json").symlink_to(target)
    with pytest.raises(SnfNetworkError, match="cannot be read"):
        engine.ifup(host, routed("tap2", mac="aa:00:00:00:00:02"), cfg)
    assert target.read_text() == "precious\n"


def test_a_truncated_record_is_damaged_not_a_crash(host, cfg, tmp_path) -> None:
    engine.ifup(host, routed("tap1"), cfg)
    path = tmp_path / "state" / "tap1.json"
    path.write_text(path.read_text()[:40])
    with pytest.raises(SnfNetworkError, match="is damaged"):
        record.load(host, cfg, "tap1")
    assert record.load_all(host, cfg) == []


def test_reapply_restores_every_record_and_drops_vanished_ones(host, cfg) -> None:
    engine.ifup(host, routed("tap1"), cfg)
    engine.ifup(host, routed("tap2", ip="192.0.2.11", mac="aa:00:00:00:00:02", instance="vm2"), cfg)
    del host.links["tap2"]
    host.commands.clear()
    applied, dropped, failed = engine.reapply(host, cfg)
    assert (applied, dropped, failed) == (["tap1"], ["tap2"], [])
    scripts = host.nft_scripts()
    assert any("flush table inet snf" in script for script in scripts)  # reloaded, whatever the marker said
    assert any('add element inet snf ip4_ok { "tap1" . 192.0.2.10 }' in script for script in scripts)
    assert [entry.interface for entry in record.load_all(host, cfg)] == ["tap1"]


def nothing_done(host: RecordingHost, cfg, before: dict[str, str]) -> None:
    """No command run, no /proc/sys value, proxy entry, announcement or record changed."""
    assert host.commands == []
    assert host.sysctls == before and host.proxies == set() and host.announced == []
    assert record.load_all(host, cfg) == []


def plain_routed(ip: str, tap: str = "tap1", mode: str = "routed", link: str = "main"):
    """A NIC without network (Ganeti's classic routed NIC, in main by default)."""
    return nic_module.from_env({"INSTANCE": "vm1", "INTERFACE": tap, "MAC": "aa:00:00:00:00:01", "MODE": mode,
                                "LINK": link, "IP": ip})


@pytest.mark.parametrize(("nic", "message"), [
    # Today's harm: ``ip route replace 198.51.100.1/32 dev tap1 table main``, the node cut off.
    (lambda: plain_routed("198.51.100.1"), "IP: a next hop of this node's routes (a gateway of table main "
     "through eth0): '198.51.100.1'"),
    (lambda: routed(ip="192.0.2.254"), "IP: a next hop of this node's routes (a gateway of table 100"),
    (lambda: plain_routed("198.51.100.1", mode="bridged", link="br0"), "IP: a next hop of this node's routes"),
    (lambda: plain_routed("198.51.100.2"), "IP: an address of this node (on eth0): '198.51.100.2'"),
    (lambda: routed(mac="aa:00:00:00:00:02"), "MAC: its EUI-64 address in NETWORK_SUBNET6, "
     "2001:db8:1:0:a800:ff:fe00:2, is an address of this node (on eth0)"),
    # Today's harm: eth0 gets the tap's MAC.
    (lambda: routed(tap="eth0"), "INTERFACE: an uplink of this node (a default route of table 100 goes through it)"),
    (lambda: routed(tap="br0"), "INTERFACE: a bridge, not a VM's tap, Xen vif or veth: 'br0'"),
    (lambda: plain_routed("198.51.100.9", tap="eth1", mode="bridged", link="br0"), "INTERFACE: a device of its "
     "own driver (hardware)"),
], ids=["gateway of main", "gateway of LINK", "bridged gateway", "node address", "node EUI-64", "uplink", "bridge",
        "hardware"])
def test_a_nic_that_takes_the_node_s_own_is_refused_before_anything_changes(host, cfg, nic, message) -> None:
    host.add_link("eth0", kind="veth")
    host.add_link("eth1", kind="device")
    host.add_link("br0", bridge=True)
    host.routes[4, "main"] = ("eth0",)
    host.next_hops = {(4, "main"): (("198.51.100.1", "eth0"),), (4, "100"): (("192.0.2.254", "eth0"),),
                      (6, "100"): (("fe80::1", "eth0"),)}
    host.local = {"198.51.100.2": ("local", "eth0"), "2001:db8:1:0:a800:ff:fe00:2": ("local", "eth0")}
    before = dict(host.sysctls)
    for run in (engine.plan, engine.ifup):
        with pytest.raises(InputError) as error:
            run(host, nic(), cfg)
        assert message in str(error.value) and "\n" not in str(error.value)
        nothing_done(host, cfg, before)


def test_a_refused_ifup_leaves_the_previous_record_and_state_alone(host, cfg, tmp_path) -> None:
    engine.ifup(host, routed(), cfg)
    path = tmp_path / "state" / "tap1.json"
    saved = path.read_text()
    state = (dict(host.sysctls), set(host.proxies))
    host.commands.clear()
    host.local["192.0.2.11"] = ("local", "eth0")
    with pytest.raises(InputError, match=r"^IP: an address of this node"):
        engine.ifup(host, routed(ip="192.0.2.11"), cfg)
    assert host.commands == [] and (host.sysctls, host.proxies) == state
    assert path.read_text() == saved


def test_a_subnet_routed_to_the_vm_does_not_stop_its_next_ifup(host, cfg) -> None:
    """``203.0.113.0/24 via 192.0.2.10 dev tap1 table 100``: the VM's IP is a next hop, through its own tap."""
    engine.ifup(host, routed(), cfg)
    host.next_hops[4, "100"] = (("192.0.2.10", "tap1"),)
    engine.ifup(host, routed(), cfg)
    assert record.load(host, cfg, "tap1") is not None


def test_main_s_ipv6_next_hops_are_read_on_the_eui64_s_link_only(host, cfg) -> None:
    """A fe80::/64 per tap makes main's IPv6 routes many: only the link the address is on can hold its next hops."""
    eui64 = "2001:db8:1:0:a800:ff:fe00:1"
    host.next_hops[6, "main"] = ((eui64, "eth0"),)
    engine.ifup(host, routed(), cfg)  # main reaches the address through a gateway: no next hop can be it
    host.on_link[eui64] = "eth0"
    with pytest.raises(InputError, match=rf"^MAC: its EUI-64 address in NETWORK_SUBNET6, {eui64}, is a next hop of "
                       r"this node's routes \(a gateway of table main through eth0\): 'aa:00:00:00:00:01'$"):
        engine.plan(host, routed(), cfg)
