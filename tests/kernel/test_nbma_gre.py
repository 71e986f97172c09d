"""The NBMA overlay with the GRE backend (kernel ip_gre, open-ended, the original's data plane).

This machine's kernel has no ip_gre: the test is skipped here and runs
inside Debian 12's kernel under kvm-run (tests/kernel/test_debian_kernel.py
lists it). One test, one lab: Python is slow in there.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab import can_run, sh
from tests.nbma_lab import NODES, OUTSIDE, NbmaLab

pytestmark = pytest.mark.kernel

IP1, IP2 = "192.0.2.11", "192.0.2.22"


def gre_missing() -> str:
    """Why this kernel cannot make a GRE device, or ''."""
    ns = f"snfgreprobe-{time.monotonic_ns()}"
    sh("ip", "netns", "add", ns)
    try:
        result = sh("ip", "-n", ns, "link", "add", "probe0", "type", "gre", "key", "1", check=False)
        return "" if result.returncode == 0 else f"no ip_gre in this kernel ({result.stderr.strip()})"
    finally:
        sh("ip", "netns", "del", ns, check=False)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[NbmaLab]:
    reason = can_run() or gre_missing()
    if reason:
        pytest.skip(f"GRE backend: {reason} (it runs under Debian's kernel: test_debian_kernel.py)")
    built = NbmaLab(tmp_path, backend="gre", snapshot=30, reconcile=30)
    try:
        yield built.build()
    finally:
        built.close()


def links(lab: NbmaLab, label: str) -> list[str]:
    """The namespace's links; gre0 and its kin are the kernel's per-namespace fallback devices, not ours."""
    node = lab.nodes[label]
    names = [line.split(":")[1].strip().split("@")[0] for line in node.ns(node.node, "ip", "-o", "link", "show")
             .stdout.splitlines()]
    return [name for name in names if name not in ("gre0", "gretap0", "erspan0")]


def test_gre_overlay_carries_vms_across_nodes_and_follows_a_migration(lab: NbmaLab) -> None:
    """Python is 10-20 times slower in there: what the VXLAN tests already show (idempotence, every
    node's teardown, hostile datagrams) is not repeated."""
    a = lab.nodes["a"]
    before = links(lab, "a")
    lab.setup_all()
    details = a.ns(a.node, "ip", "-d", "link", "show", "gtun0").stdout
    assert "gre remote any local any" in details and "ikey 0.0.0.1 okey 0.0.0.1" in details, details
    assert "NOARP" not in details and "mtu 1472" in details
    lab.start_daemons(seconds=120)
    v1 = lab.vm("a", 1, IP1)
    v2 = lab.vm("b", 2, IP2)
    assert lab.ping(v1.name, IP2, count=3, wait=5), a.daemon_log()
    assert a.neighbour("gtun0", IP2) == NODES["b"]  # the lladdr is the node's underlay address
    lab.migrate(v2, "b", "c")
    deadline = time.monotonic() + 30
    while a.neighbour("gtun0", IP2) != NODES["c"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert a.neighbour("gtun0", IP2) == NODES["c"]
    assert lab.ping(v1.name, IP2, count=3, wait=5)
    assert lab.ping(v1.name, OUTSIDE, count=2, wait=5)
    for node in lab.nodes.values():
        assert node.stop_daemon() == 0
    assert lab.ping(v1.name, IP2, count=1, wait=5)  # the data plane outlives the daemons
    lab.ifdown("a", v1, IP1)
    a.ns(a.node, "ip", "link", "del", "tap1")
    a.snf("overlay", "teardown")
    assert links(lab, "a") == before
    assert a.ns(a.node, "ip", "rule", "show", "iif", "gtun0").stdout == ""
    assert "snf_nbma" not in a.ns(a.node, "nft", "list", "tables").stdout
