"""Time of the DNS hook's work for one instance: two NICs, four records, against a local named.

Run by hand as root after tools/setup.sh:

    .venv/bin/python bench/dns_update.py [--runs 50]

It starts its own named (bind9) in a temporary directory on a free port, then
times, in process and with dnspython already imported, what the hook does
for an instance-add: read the key file, one TCP connection, query the name's
A/AAAA, and send three updates (the forward zone, an in-addr.arpa and an
ip6.arpa zone) with A, AAAA and both PTRs, TSIG hmac-sha256. Every run is a
new instance (new name, new addresses). Target: a median of at most 15 ms.
For context it also times whole hook processes (Python start and imports
included), which the target leaves aside.
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
from snf_network.nic import Network, Nic
from tests.dns.named_server import FORWARD_ZONE, Named, missing_reason

HOOK = Path(sys.executable).parent / "snf-network-dnshook"


def nics(index: int) -> list[Nic]:
    import ipaddress

    mac = f"aa:00:01:00:{index // 256:02x}:{index % 256:02x}"
    return [
        Nic(instance=f"bench{index}", mac=mac, mode="routed", index=0,
            ip=ipaddress.IPv4Address(f"192.0.2.{index % 250 + 1}"),
            network=Network(tags=("dns",), subnet=ipaddress.IPv4Network("192.0.2.0/24"))),
        Nic(instance=f"bench{index}", mac=mac.replace("aa:00:01", "aa:00:02"), mode="bridged", index=1,
            network=Network(tags=("dns",), subnet6=ipaddress.IPv6Network("2001:db8:0:1::/64"))),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--processes", type=int, default=10, help="whole hook processes to time")
    args = parser.parse_args()
    reason = missing_reason()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="snf-dns-bench.") as tmp:
        named = Named(Path(tmp) / "named").start()
        try:
            conf = Path(tmp) / "snf-network.conf"
            conf.write_text(f"AUTHENTICATION_METHOD=bind9\nSERVER=127.0.0.1:{named.port}\n"
                            f"FZONE={FORWARD_ZONE}\nKEYFILE={named.keyfile}\nLOGFILE={tmp}/snf.log\n"
                            f"SYSLOG=no\nSTATE_DIR={tmp}/state\nNODE_NAME=node1.example.org\n")
            cfg = config.load({"SNF_NETWORK_CONFIG": str(conf)})
            from snf_network.dns import sync  # imports dnspython, as the hook does before its work

            assert sync.apply(cfg, target="warmup", nics=nics(10_000))
            times = []
            for index in range(args.runs):
                batch = nics(index)
                start = time.perf_counter()
                ok = sync.apply(cfg, target=f"bench{index}", nics=batch)
                times.append((time.perf_counter() - start) * 1000)
                assert ok, Path(f"{tmp}/snf.log").read_text()
            print(f"in-process DNS work per instance (2 NICs, 4 records, {args.runs} runs): "
                  f"median {statistics.median(times):.2f} ms, min {min(times):.2f}, max {max(times):.2f}")
            processes = []
            for index in range(args.processes):
                env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "SNF_NETWORK_CONFIG": str(conf),
                       "GANETI_HOOKS_PHASE": "post", "GANETI_OP_CODE": "OP_INSTANCE_CREATE",
                       "GANETI_INSTANCE_NAME": f"proc{index}", "GANETI_INSTANCE_PRIMARY": "node1.example.org",
                       "GANETI_INSTANCE_NIC_COUNT": "1", "GANETI_INSTANCE_NIC0_MAC": "aa:00:03:00:00:01",
                       "GANETI_INSTANCE_NIC0_MODE": "routed", "GANETI_INSTANCE_NIC0_IP": "198.51.100.7",
                       "GANETI_INSTANCE_NIC0_NETWORK_SUBNET6": "2001:db8:0:1::/64",
                       "GANETI_INSTANCE_NIC0_NETWORK_TAGS": "dns"}
                start = time.perf_counter()
                subprocess.run([str(HOOK)], env=env, check=True)
                processes.append((time.perf_counter() - start) * 1000)
            print(f"whole hook process, for context ({args.processes} runs): "
                  f"median {statistics.median(processes):.1f} ms")
        finally:
            named.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
