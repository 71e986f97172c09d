"""A demonstration in throwaway namespaces: a node, an upstream router and a VM on a routed network.

It shows the plan for the VM's NIC, applies it by running kvm-vif-bridge the
way Ganeti does, proves the VM's connectivity both ways over IPv4 and IPv6,
shows that a spoofed source address does not get through, brings the NIC
down and shows that nothing of ours is left. Run by tools/demo.sh as root.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from lab import GATEWAY, GATEWAY6, Lab

VM_MAC = "aa:00:00:12:34:56"
VM_IP = "192.0.2.10"
VM_IP6 = "2001:db8:1::a800:ff:fe12:3456"  # the EUI-64 of VM_MAC in 2001:db8:1::/64


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def check(label: str, ok: bool) -> bool:
    print(f"   {'ok  ' if ok else 'FAIL'} {label}", flush=True)
    return ok


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="snf-demo-"))
    lab = Lab(workdir)
    results = []
    try:
        step("building namespaces: upstream router, node (table 100 routed via eth0), VM behind tap1")
        lab.build()
        vm = lab.add_vm(1, VM_MAC)
        env = lab.ganeti_env(vm, ip=VM_IP)
        print("   the NIC as Ganeti describes it:")
        for key in ("INSTANCE", "INTERFACE", "MAC", "IP", "MODE", "LINK", "NETWORK_TAGS", "NETWORK_SUBNET",
                    "NETWORK_GATEWAY", "NETWORK_SUBNET6"):
            print(f"     {key}={env[key]}")

        step("snf-network plan (what the NIC would get; changes nothing)")
        plan = lab.program("snf-network", env, "plan")
        print("".join(f"   {line}\n" for line in plan.stdout.splitlines()), end="")

        step("kvm-vif-bridge, run as Ganeti's kvm-ifup runs it")
        up = lab.program("kvm-vif-bridge", env, check=False)
        results.append(check(f"exit status {up.returncode}", up.returncode == 0))

        step("inside the VM: the addresses its DHCP client and SLAAC would configure")
        lab.configure_vm(vm, VM_IP, VM_IP6)
        results.append(check(f"VM -> upstream {GATEWAY}", lab.ping(vm.name, GATEWAY)))
        results.append(check(f"upstream -> VM {VM_IP}", lab.ping(lab.upstream, VM_IP)))
        results.append(check(f"VM -> upstream {GATEWAY6}", lab.ping(vm.name, GATEWAY6)))
        results.append(check(f"upstream -> VM {VM_IP6}", lab.ping(lab.upstream, VM_IP6)))
        lab.ns(vm.name, "ip", "addr", "add", "192.0.2.99/32", "dev", "eth0")
        results.append(check("a spoofed source (192.0.2.99) from the VM is dropped",
                             not lab.ping(vm.name, GATEWAY, source="192.0.2.99", count=1)))

        step("snf-network status")
        status = lab.program("snf-network", env, "status", "-v")
        print("".join(f"   {line}\n" for line in status.stdout.splitlines()), end="")

        step("ACTION=down (Ganeti 3.2's network/routed/down)")
        down = lab.program("kvm-vif-bridge", {**env, "ACTION": "down"}, check=False)
        results.append(check(f"exit status {down.returncode}", down.returncode == 0))
        left = lab.node_state(vm.tap)
        results.append(check("no rule, route, proxy entry or nft element of tap1 is left",
                             not (left["rules"] or left["proxies"] or left["nft"]
                                  or [r for r in left["routes"] if "table 100" in r])))
        results.append(check(f"upstream -> VM {VM_IP} no longer works", not lab.ping(lab.upstream, VM_IP, count=1)))
    finally:
        lab.close()
        shutil.rmtree(workdir, ignore_errors=True)
    step(f"{sum(results)} of {len(results)} checks passed; namespaces deleted")
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
