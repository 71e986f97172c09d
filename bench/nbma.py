"""The NBMA overlay's numbers, in the namespace lab of tests/nbma_lab.py (VXLAN backend).

Run by hand as root after tools/setup.sh:

    .venv/bin/python bench/nbma.py [--migrations 20] [--entries 10000] [--seconds 3]

It prints medians of:
- convergence after a live migration (the VM's tap moved to the new node, our
  ifup there with MIGRATION_PHASE=post, ifdown on the old one): from the start
  of the new node's ifup until a third node's neighbour entry points at the
  new node, and until the VM answers pings again. Target: at most 1 s (the
  original polled every 5 s);
- installing 10,000 neighbour entries with snf-nld's batched netlink writes
  (batch.py). Target: under 0.1 s;
- VM-to-VM TCP throughput (iperf3) over the overlay, against plain routing
  over the same veths and router. Target: a ratio of at least 0.95;
- what the NIC programs pay to nudge the daemon (one datagram on a unix socket).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from snf_network.overlay.backends import mac_of
from tests.lab import VENV_BIN, can_run, sh
from tests.nbma_lab import NODES, NbmaLab

IP1, IP2 = "192.0.2.11", "192.0.2.22"


def convergence(lab: NbmaLab, runs: int) -> tuple[list[float], list[float]]:
    v1 = lab.nodes["a"].vms[0]
    v2 = lab.nodes["b"].vms[0]
    where = "b"
    learned, resumed = [], []
    for _ in range(runs):
        new = "c" if where == "b" else "b"
        sh("ip", "-n", lab.nodes[where].node, "link", "set", v2.tap, "netns", lab.nodes[new].node)
        start = time.monotonic()
        lab.ifup(new, v2, IP2, MIGRATION_PHASE="post")
        lab.ifdown(where, v2, IP2)
        want = mac_of(NODES[new])
        while lab.nodes["a"].neighbour("vx42", IP2) != want:
            if time.monotonic() - start > 10:
                raise SystemExit("no convergence within 10 s")
        learned.append(time.monotonic() - start)
        while not lab.ping(v1.name, IP2, count=1, wait=0.1):
            pass
        resumed.append(time.monotonic() - start)
        where = new
    return learned, resumed


def install(entries: int, runs: int = 5) -> list[float]:
    code = f"""
import socket, time
from snf_network.nld.batch import Batch
index = socket.if_nametoindex("vx42")
batch = Batch()
for i in range({entries}):
    batch.set_neigh(index, f"10.{{100 + i // 65536}}.{{(i // 256) % 256}}.{{i % 256}}", "02:00:c6:33:64:06")
start = time.perf_counter()
errors = batch.send()
print(time.perf_counter() - start, len(errors))
"""
    times = []
    for _ in range(runs):
        ns = f"snfnbbench-{os.getpid()}"
        sh("ip", "netns", "add", ns)
        try:
            for command in ("ip link add eth0 type veth peer name eth1", "ip addr add 198.51.100.2/30 dev eth0",
                            "ip link set eth0 up",
                            "ip link add vx42 type vxlan id 42 local 198.51.100.2 dstport 4789 dev eth0 nolearning",
                            "ip link set vx42 up"):
                sh("ip", "-n", ns, *command.split()[1:])
            out = sh("ip", "netns", "exec", ns, sys.executable, "-c", code).stdout.split()
            if out[1] != "0":
                raise SystemExit(f"{out[1]} entries refused")
            times.append(float(out[0]))
        finally:
            sh("ip", "netns", "del", ns, check=False)
    return times


def iperf(lab: NbmaLab, seconds: int) -> float:
    v1, v2 = lab.nodes["a"].vms[0], lab.nodes["b"].vms[0]
    server = subprocess.Popen(["ip", "netns", "exec", v2.name, "iperf3", "-s", "-1"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    try:
        out = sh("ip", "netns", "exec", v1.name, "iperf3", "-c", IP2, "-t", str(seconds), "-J").stdout
    finally:
        server.wait(timeout=10)
    return float(json.loads(out)["end"]["sum_received"]["bits_per_second"])


def plain_routing(lab: NbmaLab, on: bool) -> None:
    """The same hops without the overlay (``on``): host routes through the router, more specific than the
    overlay's /24; off again for the next overlay run."""
    a, b = lab.nodes["a"], lab.nodes["b"]
    verb = "replace" if on else "del"
    a.ns(a.node, "ip", "route", verb, f"{IP2}/32", "via", "198.51.100.1", "dev", "eth0", "table", "100")
    b.ns(b.node, "ip", "route", verb, f"{IP1}/32", "via", "198.51.100.5", "dev", "eth0", "table", "100")
    for node in (a, b):
        node.ns(node.node, "ip", "rule", "add" if on else "del", "iif", "eth0", "lookup", "100")
    sh("ip", "-n", lab.router, "route", verb, IP2, "via", NODES["b"])
    sh("ip", "-n", lab.router, "route", verb, IP1, "via", NODES["a"])


def nudge_cost() -> tuple[float, list[str]]:
    code = """
import sys, time
before = set(sys.modules)
start = time.perf_counter()
from snf_network.nld.nudge import nudge
for _ in range(1000):
    nudge("/nonexistent/nld.sock", "up", "tap0")
took = (time.perf_counter() - start) / 1000
print(took, " ".join(sorted(set(sys.modules) - before)))
"""
    out = sh(sys.executable, "-c", code).stdout.split()
    return float(out[0]), out[1:]


def show(name: str, values: list[float], unit: float = 1000.0, target: str = "") -> None:
    print(f"{name}: median {statistics.median(values) * unit:.1f} ms (min {min(values) * unit:.1f}, "
          f"max {max(values) * unit:.1f}, n={len(values)}) {target}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--migrations", type=int, default=20)
    parser.add_argument("--entries", type=int, default=10000)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    reason = can_run()
    if reason or not (VENV_BIN / "snf-nld").exists():
        raise SystemExit(f"cannot run: {reason or 'snf-nld is not installed (tools/setup.sh)'}")
    took, modules = nudge_cost()
    print(f"nudge: {took * 1e6:.1f} us per call (no daemon); modules it imports: {' '.join(modules) or 'none'}")
    show(f"install {args.entries} neighbour entries", install(args.entries), target="(target < 100 ms)")
    with tempfile.TemporaryDirectory() as tmp:
        lab = NbmaLab(Path(tmp), snapshot=30, reconcile=60)
        try:
            lab.build()
            lab.setup_all()
            lab.start_daemons()
            lab.vm("a", 1, IP1)
            lab.vm("b", 2, IP2)
            assert lab.ping(lab.nodes["a"].vms[0].name, IP2)
            learned, resumed = convergence(lab, args.migrations)
            show("migration: third node's entry points at the new node", learned, target="(target <= 1000 ms)")
            show("migration: the VM answers pings again", resumed)
            # Back on b for the throughput comparison.
            v2 = lab.nodes["b"].vms[0]
            if lab.nodes["a"].neighbour("vx42", IP2) != mac_of(NODES["b"]):
                lab.migrate(v2, "c", "b")
            # Overlay and plain runs alternate, so that the load of a shared machine weighs on both alike.
            overlay, plain = [], []
            for _ in range(args.rounds):
                overlay.append(iperf(lab, args.seconds))
                plain_routing(lab, True)
                plain.append(iperf(lab, args.seconds))
                plain_routing(lab, False)
        finally:
            lab.close()
    o, p = statistics.median(overlay), statistics.median(plain)
    pairs = statistics.median(x / y for x, y in zip(overlay, plain, strict=True))
    print(f"throughput (median of {args.rounds}): overlay {o / 1e9:.2f} Gbit/s, plain routing {p / 1e9:.2f} Gbit/s, "
          f"ratio {o / p:.2f}, median of the paired ratios {pairs:.2f} (target >= 0.95)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
