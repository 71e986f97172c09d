"""Wall time of kvm-vif-bridge for a routed NIC (IPv4, IPv6, nfdhcpd tag), in a namespace.

Run by hand as root after tools/setup.sh:

    .venv/bin/python bench/ifup.py [--runs 20] [--others 1000]

It prints the median (and min/max) of 20 runs in four cases: the first ifup of
a NIC (its previous run undone by an untimed ifdown), a repeated ifup of the
same NIC (Ganeti re-runs ifup on soft reboots and hotplug), each again with
1000 other NICs already configured on the node. Targets on a 2-core machine:
a 40 ms median, and at most 1.25 times that with 1000 NICs present.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.timing import namespace_overhead, report
from tests.lab import TABLE, VENV_BIN, Lab, can_run, sh


def time_runs(lab: Lab, env: dict[str, str], runs: int, fresh: bool) -> list[float]:
    program = str(VENV_BIN / "kvm-vif-bridge")
    argv = ["ip", "netns", "exec", lab.node, program]
    # Time the program alone: enter the namespace once, in a shell that stays.
    timings = []
    for _ in range(runs):
        if fresh:
            lab.program("kvm-vif-bridge", {**env, "ACTION": "down"})
        start = time.perf_counter()
        result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        timings.append((time.perf_counter() - start) * 1000)
        if result.returncode != 0:
            raise SystemExit(f"kvm-vif-bridge failed: {result.stderr}")
    return timings


def add_others(lab: Lab, count: int) -> None:
    """``count`` other routed NICs, configured by kvm-vif-bridge like any other."""
    lines = [f"link add o{i} type veth peer name p{i}" for i in range(count)]
    sh("ip", "-n", lab.node, "-batch", "-", stdin="\n".join(lines) + "\n")
    for i in range(count):
        mac = f"aa:00:01:00:{i // 256:02x}:{i % 256:02x}"
        ip = f"192.0.2.{10 + i % 200}" if i < 200 else ""  # the /24 holds 200 of them; the rest are IPv6-only
        env = lab.ganeti_env(lab.vms[0], ip=ip, INTERFACE=f"o{i}", MAC=mac, INSTANCE=f"other{i}.example.org")
        lab.program("kvm-vif-bridge", env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--others", type=int, default=1000)
    args = parser.parse_args()
    reason = can_run()
    if reason:
        print(f"bench/ifup.py: {reason}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as workdir:
        lab = Lab(Path(workdir))
        try:
            lab.build()
            vm = lab.add_vm(1, "aa:00:00:12:34:56")
            env = lab.ganeti_env(vm, ip="192.0.2.250", tags="ip-less-routed nfdhcpd")
            lab.program("kvm-vif-bridge", env)  # load our ruleset once, as a node's first NIC would
            overhead = namespace_overhead(lab, args.runs)
            print(f"routed NIC, IPv4 + IPv6 + nfdhcpd, table {TABLE}; {args.runs} runs each; "
                  f"'ip netns exec' ({overhead:.1f} ms) subtracted")
            first = report("first ifup", time_runs(lab, env, args.runs, fresh=True), overhead)
            again = report("repeated ifup", time_runs(lab, env, args.runs, fresh=False), overhead)
            started = time.perf_counter()
            add_others(lab, args.others)
            print(f"({args.others} other NICs configured in {time.perf_counter() - started:.0f} s)")
            first_many = report(f"first ifup, {args.others} other NICs",
                                time_runs(lab, env, args.runs, fresh=True), overhead)
            again_many = report(f"repeated ifup, {args.others} other NICs",
                                time_runs(lab, env, args.runs, fresh=False), overhead)
            print(f"ratio with {args.others} NICs: first {first_many / first:.2f}, repeated "
                  f"{again_many / again:.2f} (target <= 1.25); target median <= 40 ms")
        finally:
            lab.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
