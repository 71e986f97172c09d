"""snf-network-hook with Ganeti's real variables and cleared environment, on the right and wrong nodes."""

from __future__ import annotations

import re

import pytest

from tests.kernel.two_nodes import NODE_A, NODE_B, hook_env, hook_nic, nothing_left, run_hook
from tests.lab import Lab, Vm, snapshot

pytestmark = pytest.mark.kernel

MAC = "aa:00:00:12:34:56"
IP = "192.0.2.10"
EUI64_LONG = "2001:db8:1:0:a800:ff:fe12:3456"
OTHER_MAC = "aa:00:00:65:43:21"
OTHER_IP = "192.0.2.20"
OTHER_EUI64_LONG = "2001:db8:1:0:a800:ff:fe65:4321"
NODE_C = "nodec.example.org"


def two_instances(lab: Lab) -> tuple[Vm, Vm, str]:
    """This node is node A; it runs the instance under test (tap1) and another one (tap2)."""
    lab.build(extra_config=f"NODE_NAME={NODE_A}\n")
    vm = lab.add_vm(1, MAC)
    other = lab.add_vm(2, OTHER_MAC)
    lab.program("kvm-vif-bridge", lab.ganeti_env(vm, ip=IP))
    lab.program("kvm-vif-bridge", lab.ganeti_env(other, ip=OTHER_IP))
    return vm, other, f"{vm.name}.example.org"


def nic_state(lab: Lab, tap: str, address6: str) -> dict[str, object]:
    """One NIC's state in the node, in a form that does not depend on its neighbours in nft sets."""
    state = lab.node_state(tap)
    ruleset = lab.ns(lab.node, "nft", "list", "ruleset").stdout
    return {
        "rules": state["rules"],
        "routes": state["routes"],
        "proxied": [line for line in state["proxies"] if line.split()[0] == address6],
        "nft": sorted(re.findall(rf'"{re.escape(tap)}"(?: \. [^,}}\s]+)?', ruleset)),
        "binding": (lab.workdir / "nfdhcpd" / tap).read_text(),
        "record": (lab.workdir / "state" / f"{tap}.json").read_text(),
    }


def log_of(lab: Lab) -> str:
    path = lab.workdir / "snf-network.log"
    return path.read_text() if path.exists() else ""


CLEARING = [
    ("OP_INSTANCE_MIGRATE", {"GANETI_OLD_PRIMARY": NODE_A, "GANETI_NEW_PRIMARY": NODE_B,
                             "GANETI_MIGRATE_LIVE": "True", "GANETI_MIGRATE_CLEANUP": "False"}),
    ("OP_INSTANCE_FAILOVER", {"GANETI_OLD_PRIMARY": NODE_A, "GANETI_NEW_PRIMARY": NODE_B,
                              "GANETI_FAILOVER_CLEANUP": "False", "GANETI_IGNORE_CONSISTENCY": "False"}),
    ("OP_INSTANCE_SHUTDOWN", {"GANETI_TIMEOUT": "120"}),
    ("OP_INSTANCE_REMOVE", {"GANETI_SHUTDOWN_TIMEOUT": "120"}),
]


@pytest.mark.parametrize(("opcode", "extra"), CLEARING, ids=[case[0] for case in CLEARING])
def test_the_node_the_instance_left_is_cleared(lab: Lab, opcode: str, extra: dict[str, str]) -> None:
    vm, other, instance = two_instances(lab)
    other_before = nic_state(lab, other.tap, OTHER_EUI64_LONG)
    assert other_before["proxied"] and other_before["nft"]
    # The instance's QEMU is gone, and its tap: stock Ganeti ran no ifdown.
    lab.ns(lab.node, "ip", "link", "del", vm.tap)
    assert f"{EUI64_LONG} dev eth0 proxy " in lab.node_state(vm.tap)["proxies"]
    env = hook_env(lab.config_path, opcode, instance, [hook_nic(MAC, IP)], **extra)
    result = run_hook(lab, env)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    nothing_left(lab, vm.tap, EUI64_LONG)
    assert nic_state(lab, other.tap, OTHER_EUI64_LONG) == other_before  # another instance's NIC is untouched
    assert (lab.workdir / "state" / f"{other.tap}.json").exists()
    assert f"cleared {vm.tap}" in log_of(lab)
    # Ganeti may run a hook again (a retried job): nothing more to do, still 0.
    assert run_hook(lab, env).returncode == 0
    lab.program("kvm-ifdown-custom", lab.ganeti_env(other), other.tap, "true")
    nothing_left(lab, other.tap, OTHER_EUI64_LONG)


NOTHING = [
    ("new primary of a migration", "OP_INSTANCE_MIGRATE", "post",
     {"GANETI_OLD_PRIMARY": NODE_B, "GANETI_NEW_PRIMARY": NODE_A}),
    ("bystander of a migration", "OP_INSTANCE_MIGRATE", "post",
     {"GANETI_OLD_PRIMARY": NODE_C, "GANETI_NEW_PRIMARY": NODE_B}),
    ("a migration --cleanup", "OP_INSTANCE_MIGRATE", "post",
     {"GANETI_OLD_PRIMARY": NODE_A, "GANETI_NEW_PRIMARY": NODE_B, "GANETI_MIGRATE_CLEANUP": "True"}),
    ("pre phase of a migration", "OP_INSTANCE_MIGRATE", "pre",
     {"GANETI_OLD_PRIMARY": NODE_A, "GANETI_NEW_PRIMARY": NODE_B}),
    ("new primary of a failover", "OP_INSTANCE_FAILOVER", "post",
     {"GANETI_OLD_PRIMARY": NODE_B, "GANETI_NEW_PRIMARY": NODE_A}),
    ("bystander of a failover", "OP_INSTANCE_FAILOVER", "post",
     {"GANETI_OLD_PRIMARY": NODE_B, "GANETI_NEW_PRIMARY": NODE_C}),
    ("secondary of a stop", "OP_INSTANCE_SHUTDOWN", "post", {"GANETI_INSTANCE_PRIMARY": NODE_B}),
    ("pre phase of a stop", "OP_INSTANCE_SHUTDOWN", "pre", {}),
    ("secondary of a remove", "OP_INSTANCE_REMOVE", "post", {"GANETI_INSTANCE_PRIMARY": NODE_B}),
    ("primary of a start", "OP_INSTANCE_STARTUP", "post", {"GANETI_FORCE": "False"}),
    ("primary of a reboot", "OP_INSTANCE_REBOOT", "post", {"GANETI_REBOOT_TYPE": "hard"}),
    ("unknown operation", "OP_INSTANCE_FROBNICATE", "post", {}),
    ("no operation", "", "post", {}),
]


@pytest.mark.parametrize(("case", "opcode", "phase", "extra"), NOTHING, ids=[case[0] for case in NOTHING])
def test_everywhere_else_nothing_changes(lab: Lab, case: str, opcode: str, phase: str,
                                         extra: dict[str, str]) -> None:
    vm, other, instance = two_instances(lab)
    before = snapshot(lab)
    env = hook_env(lab.config_path, opcode, instance, [hook_nic(MAC, IP)], phase=phase, **extra)
    result = run_hook(lab, env)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert snapshot(lab) == before
    for nic in (vm, other):
        lab.program("kvm-ifdown-custom", lab.ganeti_env(nic), nic.tap, "true")
        nothing_left(lab, nic.tap, EUI64_LONG if nic is vm else OTHER_EUI64_LONG)


def test_the_new_primary_says_why_it_does_nothing(lab: Lab) -> None:
    vm, other, instance = two_instances(lab)
    env = hook_env(lab.config_path, "OP_INSTANCE_MIGRATE", instance, [hook_nic(MAC, IP)],
                   GANETI_OLD_PRIMARY=NODE_B, GANETI_NEW_PRIMARY=NODE_A)
    assert run_hook(lab, env).returncode == 0
    assert "new primary: the NICs' ifup configured them here, nothing to do" in log_of(lab)
    for nic in (vm, other):
        lab.program("kvm-ifdown-custom", lab.ganeti_env(nic), nic.tap, "true")
        nothing_left(lab, nic.tap, EUI64_LONG if nic is vm else OTHER_EUI64_LONG)


def test_node_names_compare_without_case_or_final_dot(lab: Lab) -> None:
    vm, other, instance = two_instances(lab)
    env = hook_env(lab.config_path, "OP_INSTANCE_SHUTDOWN", instance, [hook_nic(MAC, IP)],
                   GANETI_INSTANCE_PRIMARY=NODE_A.upper() + ".")
    assert run_hook(lab, env).returncode == 0
    nothing_left(lab, vm.tap, EUI64_LONG)
    lab.program("kvm-ifdown-custom", lab.ganeti_env(other), other.tap, "true")
    nothing_left(lab, other.tap, OTHER_EUI64_LONG)


def test_a_nic_without_a_record_still_loses_its_proxy_entry(lab: Lab) -> None:
    """An instance started by the bash snf-network before the upgrade: no record, only the proxy entry."""
    lab.build(extra_config=f"NODE_NAME={NODE_A}\n")
    other = lab.add_vm(2, OTHER_MAC)
    lab.program("kvm-vif-bridge", lab.ganeti_env(other, ip=OTHER_IP))
    other_before = nic_state(lab, other.tap, OTHER_EUI64_LONG)
    lab.ns(lab.node, "ip", "-6", "neigh", "add", "proxy", EUI64_LONG, "dev", "eth0")
    env = hook_env(lab.config_path, "OP_INSTANCE_MIGRATE", "old.example.org", [hook_nic(MAC, IP)],
                   GANETI_OLD_PRIMARY=NODE_A, GANETI_NEW_PRIMARY=NODE_B)
    result = run_hook(lab, env)
    assert (result.returncode, result.stderr) == (0, "")
    proxies = lab.ns(lab.node, "ip", "-6", "neigh", "show", "proxy").stdout
    assert EUI64_LONG not in proxies
    assert nic_state(lab, other.tap, OTHER_EUI64_LONG) == other_before
    assert "a NIC without a record (set up before the upgrade?): removed proxy neighbour" in log_of(lab)
    lab.program("kvm-ifdown-custom", lab.ganeti_env(other), other.tap, "true")
    nothing_left(lab, other.tap, OTHER_EUI64_LONG)


def test_a_recorded_address_is_left_to_its_record(lab: Lab) -> None:
    # The hook's NIC has no record under this instance, but the address is another record's.
    vm, other, _ = two_instances(lab)
    before = snapshot(lab)
    env = hook_env(lab.config_path, "OP_INSTANCE_SHUTDOWN", "renamed.example.org", [hook_nic(MAC, IP)])
    assert run_hook(lab, env).returncode == 0
    assert snapshot(lab) == before
    for nic in (vm, other):
        lab.program("kvm-ifdown-custom", lab.ganeti_env(nic), nic.tap, "true")
        nothing_left(lab, nic.tap, EUI64_LONG if nic is vm else OTHER_EUI64_LONG)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"GANETI_INSTANCE_NAME": "../../etc"}, "GANETI_INSTANCE_NAME: not a valid instance name"),
        ({"GANETI_INSTANCE_NAME": ""}, "GANETI_INSTANCE_NAME: not a valid instance name"),
        ({"GANETI_OLD_PRIMARY": ""}, "GANETI_OLD_PRIMARY or GANETI_NEW_PRIMARY: not set"),
        ({"GANETI_INSTANCE_NIC_COUNT": "many"}, "GANETI_INSTANCE_NIC_COUNT: not a NIC count"),
        ({"GANETI_INSTANCE_NIC0_MAC": "aa:00:00:12:34"}, "NIC 0 skipped: GANETI_INSTANCE_NIC0_MAC: not a MAC"),
    ],
)
def test_bad_input_is_logged_and_the_hook_still_exits_0(lab: Lab, change: dict[str, str], message: str) -> None:
    vm, other, instance = two_instances(lab)
    env = hook_env(lab.config_path, "OP_INSTANCE_MIGRATE", instance, [hook_nic(MAC, IP)],
                   GANETI_OLD_PRIMARY=NODE_A, GANETI_NEW_PRIMARY=NODE_B)
    env.update(change)
    before = snapshot(lab)
    result = run_hook(lab, env)
    assert result.returncode == 0
    assert message in log_of(lab)
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) <= 1
    if "NIC" in message:
        # A bad NIC description does not stop the records from being cleared.
        nothing_left(lab, vm.tap, EUI64_LONG)
    else:
        assert snapshot(lab) == before
    for nic in (vm, other):
        lab.program("kvm-ifdown-custom", lab.ganeti_env(nic), nic.tap, "true")
        nothing_left(lab, nic.tap, EUI64_LONG if nic is vm else OTHER_EUI64_LONG)


def test_a_bad_config_is_one_line_and_exit_0(lab: Lab) -> None:
    vm, other, instance = two_instances(lab)
    good = lab.config_path.read_text()
    lab.config_path.write_text(good + "AUTHENTICATION_METHOD=md5\n")
    before = snapshot(lab)
    env = hook_env(lab.config_path, "OP_INSTANCE_SHUTDOWN", instance, [hook_nic(MAC, IP)])
    result = run_hook(lab, env)
    assert result.returncode == 0
    assert len(result.stderr.splitlines()) == 1 and "unknown authentication method" in result.stderr
    assert snapshot(lab) == before
    lab.config_path.write_text(good)
    for nic in (vm, other):
        lab.program("kvm-ifdown-custom", lab.ganeti_env(nic), nic.tap, "true")
        nothing_left(lab, nic.tap, EUI64_LONG if nic is vm else OTHER_EUI64_LONG)


def test_modify_clears_only_the_nics_whose_taps_are_gone(lab: Lab) -> None:
    """A NIC hot-removed on stock Ganeti: its tap vanished, no ifdown ran."""
    vm, other, instance = two_instances(lab)
    kept = lab.add_vm(3, "aa:00:00:00:00:33", tap="tap3")
    lab.program("kvm-vif-bridge", lab.ganeti_env(kept, ip="192.0.2.33", INSTANCE=instance))
    lab.ns(lab.node, "ip", "link", "del", vm.tap)
    env = hook_env(lab.config_path, "OP_INSTANCE_SET_PARAMS", instance, [hook_nic("aa:00:00:00:00:33", "192.0.2.33")])
    assert run_hook(lab, {**env, "GANETI_INSTANCE_PRIMARY": NODE_B}).returncode == 0  # not the primary
    assert (lab.workdir / "state" / f"{vm.tap}.json").exists()
    assert run_hook(lab, env).returncode == 0
    nothing_left(lab, vm.tap, EUI64_LONG)
    assert (lab.workdir / "state" / "tap3.json").exists()  # the instance's NIC still in place
    assert (lab.workdir / "state" / f"{other.tap}.json").exists()  # another instance's
    for nic in (kept, other):
        lab.program("kvm-ifdown-custom", lab.ganeti_env(nic), nic.tap, "true")
