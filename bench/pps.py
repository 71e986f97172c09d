"""Packets per second through a shared bridge with 1, 100 and 1000 configured ports.

Run by hand as root after tools/setup.sh:

    .venv/bin/python bench/pps.py [--ports 1 100 1000] [--seconds 3] [--runs 5]

Two VMs on a private-filtered network (anti-spoofing and MAC-prefix isolation
on both ports) exchange 60-byte UDP frames: one sends from a packet socket as
fast as Python can, the other's interface counters give the received rate.
Between measurements more ports are configured by kvm-vif-bridge, each with
its own anti-spoofing and isolation elements in our sets. Target: the rate
with 1000 ports at least 90% of the rate with one (per-packet work must not
grow with the number of ports; the original's linear ebtables chains fell to
about 10%). It also prints the median ifup time of a private-filtered NIC
(target: at most 40 ms).
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

from tests.lab import VENV_BIN, Lab, Vm, can_run, sh

SENDER = r"""
import socket, struct, sys, time
frame = bytes.fromhex(sys.argv[1])
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sock.bind(("eth0", 0))
send, end = sock.send, time.monotonic() + float(sys.argv[2])
sent = 0
while time.monotonic() < end:
    for _ in range(1000):
        send(frame)
    sent += 1000
print(sent)
"""


def udp_frame(src: Vm, dst: Vm) -> bytes:
    """A valid IPv4/UDP frame (br_netfilter drops bad checksums), padded to 60 bytes."""
    def mac(text: str) -> bytes:
        return bytes.fromhex(text.replace(":", ""))

    def ip(text: str) -> bytes:
        return bytes(int(part) for part in text.split("."))

    payload = b"x" * 18
    udp = (4000).to_bytes(2, "big") + (4000).to_bytes(2, "big") + (8 + len(payload)).to_bytes(2, "big") + b"\0\0"
    header = bytearray(b"\x45\x00" + (20 + len(udp) + len(payload)).to_bytes(2, "big") + b"\0\0\0\0\x40\x11\0\0"
                       + ip(src.ip) + ip(dst.ip))
    total = sum(int.from_bytes(header[i : i + 2], "big") for i in range(0, 20, 2))
    total = (total & 0xFFFF) + (total >> 16)
    header[10:12] = (~total & 0xFFFF).to_bytes(2, "big")
    return mac(dst.mac) + mac(src.mac) + b"\x08\x00" + bytes(header) + udp + payload


def received(lab: Lab, vm: Vm) -> int:
    return int(lab.ns(vm.name, "cat", "/sys/class/net/eth0/statistics/rx_packets").stdout)


def rate(lab: Lab, src: Vm, dst: Vm, seconds: float) -> float:
    before = received(lab, dst)
    start = time.perf_counter()
    lab.ns(src.name, sys.executable, "-c", SENDER, udp_frame(src, dst).hex(), str(seconds))
    elapsed = time.perf_counter() - start
    return (received(lab, dst) - before) / elapsed


def env_for(lab: Lab, vm: Vm, ip: str) -> dict[str, str]:
    return lab.ganeti_env(vm, ip=ip, mode="bridged", link="prv0", tags="private-filtered",
                          NETWORK_MAC_PREFIX="aa:00:01", NETWORK_SUBNET="192.0.2.0/24", NETWORK_GATEWAY="",
                          NETWORK_SUBNET6="", NETWORK_GATEWAY6="", TAGS="")


def add_ports(lab: Lab, first: int, last: int, template: Vm) -> None:
    lines = [f"link add o{i} type veth peer name p{i}" for i in range(first, last)]
    sh("ip", "-n", lab.node, "-batch", "-", stdin="\n".join(lines) + "\n")
    for i in range(first, last):
        env = env_for(lab, template, f"198.51.100.{i % 250 + 1}")
        env.update(INTERFACE=f"o{i}", MAC=f"aa:00:01:01:{i // 256:02x}:{i % 256:02x}", INSTANCE=f"o{i}.example.org",
                   NETWORK_SUBNET="198.51.100.0/24")
        lab.program("kvm-vif-bridge", env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ports", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    reason = can_run()
    if reason:
        print(f"bench/pps.py: {reason}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as workdir:
        lab = Lab(Path(workdir))
        try:
            lab.build(routed=False)
            lab.bridge("prv0")
            sender, receiver = lab.add_vm(1, "aa:00:01:00:00:01"), lab.add_vm(2, "aa:00:01:00:00:02")
            sender.ip, receiver.ip = "192.0.2.11", "192.0.2.12"
            timings = []
            for vm in (sender, receiver):
                env = env_for(lab, vm, vm.ip)
                for _ in range(10 if vm is sender else 1):
                    lab.program("kvm-vif-bridge", {**env, "ACTION": "down"})
                    start = time.perf_counter()
                    subprocess.run(["ip", "netns", "exec", lab.node, str(VENV_BIN / "kvm-vif-bridge")], env=env,
                                   check=True)
                    timings.append((time.perf_counter() - start) * 1000)
            overhead = []
            for _ in range(11):
                start = time.perf_counter()
                subprocess.run(["ip", "netns", "exec", lab.node, "true"], check=True)
                overhead.append((time.perf_counter() - start) * 1000)
            netns = statistics.median(overhead)
            print(f"ifup of a private-filtered NIC: median {statistics.median(timings) - netns:.1f} ms over "
                  f"{len(timings)} runs ('ip netns exec', {netns:.1f} ms, subtracted)")
            configured = 2
            baseline = None
            for ports in sorted(args.ports):
                if ports > configured:
                    add_ports(lab, configured, ports, sender)
                    configured = ports
                rates = [rate(lab, sender, receiver, args.seconds) for _ in range(args.runs)]
                median = statistics.median(rates)
                baseline = baseline or median
                print(f"{max(ports, configured):5d} configured ports: median {median / 1000:7.1f} kpps "
                      f"({median / baseline:.0%} of the first), min {min(rates) / 1000:.1f}, "
                      f"max {max(rates) / 1000:.1f}", flush=True)
        finally:
            lab.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
