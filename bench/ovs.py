"""Time to bring an Open vSwitch NIC up with 1, 100 and 1000 ports on the switch, against Ganeti's own sequence.

Run by hand as root after tools/setup.sh:

    .venv/bin/python bench/ovs.py [--runs 20] [--sizes 1,100,1000]

A real ovsdb-server and ovs-vswitchd (userspace datapath) run in a
namespace. At each size, every case brings one port up fresh (the previous
run's port removed, untimed), VLAN ``.100:200`` (the one form Ganeti's
script handles right), and prints medians:

- Ganeti's sequence (ganeti-nfdhcpd.md 4.3): ``ovs-vsctl del-port``, ``ip
  link set up``, ``ovs-vsctl add-port``, ``set port tag=``, ``set port trunks=``;
- the same port as one ovs-vsctl transaction (``--may-exist add-port``
  with VLANs and external_ids: what a NIC with a bandwidth limit still runs);
- the port as the NIC programs make it: one OVSDB transaction over the
  database's socket, waited for as ovs-vsctl waits (host/ovsdb.py), timed in
  this process;
- that, plus the port's anti-spoofing flows in OpenFlow 1.3 over the
  switch's socket (host/openflow.py), which Ganeti's sequence does not have;
  and, for comparison, the vsctl transaction plus one ``ovs-ofctl add-flows``;
- the whole NIC: kvm-vif-bridge as Ganeti runs it (Python, record, port,
  flows, link up).

Targets: at most 40 ms median for the whole NIC with 100 ports, and the
transaction at most half of Ganeti's sequence at every size.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from snf_network import config
from snf_network.host import Host, openflow, ovs, ovsdb
from snf_network.plan import OvsFlows, OvsPort
from tests.lab import VENV_BIN, Lab, can_run, sh
from tests.ovs_switch import Switches, missing

SWITCH = "br0"
TAP = "tap1"
MAC = "aa:00:00:12:34:56"


def once(argv: list[str], stdin: str | None = None, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    result = subprocess.run(argv, input=stdin, env=env, capture_output=True, text=True, check=False)
    elapsed = (time.perf_counter() - start) * 1000
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:6])}... failed: {result.stderr.strip()}")
    return elapsed


def timed(step) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    if not step():
        raise SystemExit("the in-process path was not taken (see host/ovsdb.py and host/openflow.py)")
    return (time.perf_counter() - start) * 1000


def fill(lab: Lab, switches: Switches, count: int, have: int) -> None:
    """Ports ``have``..``count`` on the switch (veths of the node), in batches."""
    if count <= have:
        return
    sh("ip", "-n", lab.node, "-batch", "-",
       stdin="".join(f"link add p{i} type veth peer name q{i}\nlink set p{i} up\n" for i in range(have, count)))
    for first in range(have, count, 200):
        argv: list[str] = []
        for i in range(first, min(first + 200, count)):
            argv += ["--", "add-port", SWITCH, f"p{i}"]
        switches.vsctl(*argv)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--sizes", default="1,100,1000")
    args = parser.parse_args()
    reason = can_run() or missing()
    if reason:
        print(f"bench/ovs.py: {reason}", file=sys.stderr)
        return 1
    sizes = [int(size) for size in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as workdir:
        rundir = Path(workdir) / "ovs"
        rundir.mkdir()
        lab = Lab(Path(workdir))
        switches = Switches(lab, rundir)
        try:
            lab.build(routed=False, extra_config=switches.config())
            switches.start(SWITCH)
            vm = lab.add_vm(1, MAC, tap=TAP)
            cfg = config.from_text(switches.config())
            port = OvsPort(SWITCH, TAP, tag=100, trunks="100,200", vlan_mode="native-untagged",
                           instance="vm1.example.org", nic="4e3c2a10-0000-4000-8000-000000000001", mac=MAC)
            guard = OvsFlows(SWITCH, TAP, ovs.cookie(TAP), MAC, ip4="203.0.113.10", ip6="fe80::a800:ff:fe12:3456")
            node = ["ip", "netns", "exec", lab.node]
            db = f"--db={switches.db}"
            ganeti = (f"ovs-vsctl {db} del-port {TAP} || true; ip link set {TAP} up; "
                      f"ovs-vsctl {db} add-port {SWITCH} {TAP}; ovs-vsctl {db} set port {TAP} tag=100; "
                      f"ovs-vsctl {db} set port {TAP} trunks=200")
            transaction = ovs.transaction(cfg, [port], [])
            flows = ["ovs-ofctl", "add-flows", ovs.ofctl_target(cfg, SWITCH), "-"]
            env = lab.ganeti_env(vm, ip="203.0.113.10", mode="openvswitch", link=SWITCH, tags="", VLAN=".100:200",
                                 NETWORK_SUBNET="203.0.113.0/24", NETWORK_GATEWAY="", NETWORK_SUBNET6="",
                                 NETWORK_GATEWAY6="")

            def no_port() -> None:
                switches.vsctl("--if-exists", "del-port", TAP)

            def no_nic() -> None:
                lab.program("kvm-vif-bridge", {**env, "ACTION": "down"})

            def both() -> None:
                no_port()
                sh(*node, "ovs-ofctl", "del-flows", ovs.ofctl_target(cfg, SWITCH), ovs.cookie_match(guard.cookie))

            overhead = statistics.median(once([*node, "true"]) for _ in range(args.runs))
            print(f"Open vSwitch {SWITCH} (userspace datapath), VLAN .100:200, {args.runs} runs each, the cases "
                  f"interleaved (the machine's load hits them alike); 'ip netns exec' ({overhead:.1f} ms) subtracted")
            have = 1  # the VM's own tap
            host = Host()  # the sockets are files: reached from here, outside the node's namespace
            script = ovs.flow_script([guard], [])
            for size in sizes:
                fill(lab, switches, size - 1, have - 1)
                have = max(have, size)
                ports = len(switches.vsctl("list-ports", SWITCH).split()) + 1
                names = ("ganeti", "vsctl", "ours", "ours+flows", "vsctl+ofctl", "nic")
                cases: dict[str, list[float]] = {name: [] for name in names}

                def ours(flows: bool) -> bool:
                    """What ovs.OvsBackend.apply does for a new port: flows first with its number, then the port."""
                    switch = openflow.Switch.connect(host, openflow.mgmt_socket(cfg.OVS_RUNDIR, SWITCH), 20)
                    prepared = ovsdb.prepare(host, cfg, [port], [])
                    assert switch is not None and prepared is not None
                    try:
                        sent = not flows or switch.send(script, prepared.numbers)
                        given = prepared.commit()
                        switch.finish()
                        return sent and given == prepared.numbers
                    finally:
                        switch.close()
                        prepared.close()

                for _ in range(args.runs):
                    no_port()
                    cases["ganeti"].append(once([*node, "sh", "-c", ganeti]) - overhead)
                    no_port()
                    cases["vsctl"].append(once([*node, *transaction]) - overhead)
                    no_port()
                    cases["ours"].append(timed(lambda: ours(flows=False)))
                    both()
                    cases["ours+flows"].append(timed(lambda: ours(flows=True)))
                    both()
                    cases["vsctl+ofctl"].append(once([*node, *transaction]) + once([*node, *flows], script)
                                                - 2 * overhead)
                    no_nic()
                    cases["nic"].append(once([*node, str(VENV_BIN / "kvm-vif-bridge")], env=env) - overhead)
                no_nic()
                g, vs, t, tf, vf, nic = (statistics.median(cases[name]) for name in names)
                print(f"{ports:5d} ports: Ganeti's sequence {g:6.1f} ms | ovs-vsctl transaction {vs:6.1f} ms "
                      f"({vs / g:.0%}) | ours {t:5.1f} ms ({t / g:.0%}) | ours with flows {tf:5.1f} ms "
                      f"(ovs-vsctl + ovs-ofctl {vf:5.1f}) | whole NIC {nic:6.1f} ms", flush=True)
            print("targets: whole NIC <= 40 ms with 100 ports; one transaction <= 50% of Ganeti's sequence")
        finally:
            switches.stop()
            lab.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
