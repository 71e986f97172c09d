"""Drift, cleanup, many cycles and concurrency: the record stays the truth."""

from __future__ import annotations

import subprocess

import pytest

from tests.lab import TABLE, VENV_BIN, Lab, sh

pytestmark = pytest.mark.kernel


def mac(i: int) -> str:
    return f"aa:00:01:00:{i // 256:02x}:{i % 256:02x}"


def many(lab: Lab, count: int) -> list[dict[str, str]]:
    """``count`` routed NICs on veths o0..o<count-1> (no VM namespaces: the node side is what we test)."""
    lines = [f"link add o{i} type veth peer name p{i}" for i in range(count)]
    sh("ip", "-n", lab.node, "-batch", "-", stdin="\n".join(lines) + "\n")
    envs = []
    for i in range(count):
        vm = lab.vms[0]
        envs.append(lab.ganeti_env(vm, ip=f"192.0.2.{10 + i}", INTERFACE=f"o{i}", MAC=mac(i),
                                   INSTANCE=f"vm{i}.example.org", TAGS="synnefo:network:0:protected"))
    return envs


def verify(lab: Lab, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return lab.program("snf-network", env, "verify", check=False)


def test_verify_reports_drift_and_ifup_repairs_it(lab: Lab) -> None:
    lab.build()
    vm = lab.add_vm(1, "aa:00:00:12:34:56")
    env = lab.ganeti_env(vm, ip="192.0.2.10")
    lab.program("kvm-vif-bridge", env)
    clean = verify(lab, env)
    assert clean.returncode == 0, clean.stdout
    lab.ns(lab.node, "ip", "rule", "del", "iif", "tap1", "lookup", TABLE)
    lab.ns(lab.node, "ip", "-6", "neigh", "del", "proxy", "2001:db8:1:0:a800:ff:fe12:3456", "dev", "eth0")
    lab.ns(lab.node, "nft", "delete", "element", "inet", "snf", "ip4_ok", '{ "tap1" . 192.0.2.10 }')
    (lab.workdir / "nfdhcpd" / "tap1").unlink()
    drift = verify(lab, env)
    assert drift.returncode == 1
    for expected in ("missing rule -4 iif tap1 lookup 100", "missing proxy neighbour 2001:db8:1:0:a800:ff:fe12:3456",
                     'missing nft element inet ip4_ok { "tap1" . 192.0.2.10 }', "missing file"):
        assert expected in drift.stdout, drift.stdout
    lab.program("kvm-vif-bridge", env)
    assert verify(lab, env).returncode == 0


def test_cleanup_removes_what_vanished_interfaces_left_and_nothing_else(lab: Lab) -> None:
    lab.build()
    gone = lab.add_vm(1, "aa:00:00:00:00:01")
    kept = lab.add_vm(2, "aa:00:00:00:00:02")
    gone_env, kept_env = lab.ganeti_env(gone, ip="192.0.2.11"), lab.ganeti_env(kept, ip="192.0.2.12")
    lab.program("kvm-vif-bridge", gone_env)
    lab.program("kvm-vif-bridge", kept_env)
    lab.ns(lab.node, "nft", "add", "element", "inet", "snf", "guarded", '{ "tap9" }')  # a stray, no record
    lab.ns(lab.node, "ip", "link", "del", gone.tap)  # the VM died; stock Ganeti runs no ifdown
    assert "tap1: the interface no longer exists" in verify(lab, kept_env).stdout
    result = lab.program("snf-network", kept_env, "cleanup")
    assert "removed tap1" in result.stdout and "removed tap9" in result.stdout
    state = lab.node_state(gone.tap)
    assert state["proxies"] == ["2001:db8:1:0:a800:ff:fe00:2 dev eth0 proxy "]  # only tap2's remains
    assert state["nft"] == [] and '"tap9"' not in lab.ns(lab.node, "nft", "list", "ruleset").stdout
    assert not (lab.workdir / "state" / "tap1.json").exists()
    assert not (lab.workdir / "nfdhcpd" / "tap1").exists()
    assert verify(lab, kept_env).returncode == 0  # tap2 untouched


def test_two_hundred_cycles_of_one_nic_among_fifty_leave_no_trace(lab: Lab) -> None:
    lab.build()
    lab.add_vm(0, "aa:00:00:00:00:99")
    envs = many(lab, 50)
    for env in envs:
        lab.program("kvm-vif-bridge", env)
    before = lab.ns(lab.node, "nft", "list", "ruleset").stdout
    cycled = envs[25]
    for _ in range(200):
        lab.program("kvm-vif-bridge", cycled)
        lab.program("kvm-vif-bridge", {**cycled, "ACTION": "down"})
    state = lab.node_state("o25")
    assert state["rules"] == [] and state["nft"] == []
    assert [route for route in state["routes"] if f"table {TABLE}" in route] == []
    assert "2001:db8:1:0:a800:1ff:fe00:19" not in "\n".join(state["proxies"])
    assert not (lab.workdir / "state" / "o25.json").exists()
    after = lab.ns(lab.node, "nft", "list", "ruleset").stdout
    assert [line for line in before.splitlines() if '"o25"' not in line] == after.splitlines()
    assert len(list((lab.workdir / "state").glob("*.json"))) == 49
    assert verify(lab, envs[0]).returncode == 0


def test_twenty_nics_brought_up_at_once_all_end_correct(lab: Lab) -> None:
    lab.build()
    lab.add_vm(0, "aa:00:00:00:00:99")
    envs = many(lab, 20)
    processes = [subprocess.Popen(["ip", "netns", "exec", lab.node, str(VENV_BIN / "kvm-vif-bridge")], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for env in envs]
    results = [(process.wait(timeout=120), process.communicate()) for process in processes]
    assert all(status == 0 for status, _ in results), results
    assert len(list((lab.workdir / "state").glob("*.json"))) == 20
    report = verify(lab, envs[0])
    assert report.returncode == 0, report.stdout
    assert "20 interfaces checked, 0 differ" in report.stdout
    ruleset = lab.ns(lab.node, "nft", "list", "set", "inet", "snf", "ip4_ok").stdout
    assert all(f'"o{i}" . 192.0.2.{10 + i}' in ruleset for i in range(20))
