"""The kernel tests that this machine's kernel cannot host, run under Debian 12's own kernel.

This kernel has no nft_queue, no bonding driver, no VLAN filtering on
bridges, no Open vSwitch datapath and no ip_gre, and it is newer than
the 6.1 a Debian 12 node runs (which refused one of our rules that 6.18
takes: found this way). ../shared/tools/kvm-run boots Debian's kernel under
QEMU with this machine's root file system, so the same venv and the same
tests run there; one boot for the whole set, since Python is slow inside
(software emulation: about 6-10 minutes for this list on a 2-core machine,
hence the generous timeouts).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).parents[2]
KVM_RUN = ROOT.parent / "shared" / "tools" / "kvm-run"
# What only Debian's kernel can show, and a routed NIC end to end with IPv6
# (the nfdhcpd queues are live there: they must not cut a VM off its router).
INSIDE = [
    "tests/kernel/test_nfdhcpd.py",
    "tests/kernel/test_node_values.py::test_a_nic_taking_the_node_s_own_is_one_line_and_changes_nothing"
    "[INTERFACE is a bond]",
    "tests/kernel/test_routed.py::test_vm_reaches_upstream_and_back_over_ipv4_and_ipv6",
    "tests/kernel/test_routed.py::test_spoofed_sources_do_not_get_through",
    # snf-dhcpd's packet sockets and BPF filter on the kernel a Debian 12 node runs (about 50 s there).
    "tests/kernel/test_dhcpd.py::test_udhcpc_gets_the_binding",
    "tests/kernel/test_dhcpd.py::test_kernel_slaac_takes_the_eui64_address_and_the_taps_link_local_as_router",
    # VLAN-aware bridges and 802.1Q devices; Open vSwitch on the kernel datapath.
    "tests/kernel/test_bridge_vlans.py",
    "tests/kernel/test_openvswitch.py::test_forged_frames_do_not_reach_the_neighbour_and_honest_ones_do",
    # An OVS NIC's ingress policing needs act_police, which this kernel lacks.
    "tests/kernel/test_openvswitch.py::test_a_qos_tag_limits_the_rate_both_ways",
    # Switches over bonds and a VLAN-filtering bridge (issue 11): one test, one apply.
    "tests/kernel/test_switches.py::test_bonds_and_vlan_trunks_carry_traffic_and_go_when_no_longer_declared",
    # The NBMA overlay's GRE backend: this kernel has no ip_gre.
    "tests/kernel/test_nbma_gre.py",
]


def missing() -> str:
    if os.environ.get("SNF_INSIDE_KVM_RUN"):
        return "already inside kvm-run"
    if os.geteuid() != 0:
        return "needs root"
    if not KVM_RUN.exists():
        return f"{KVM_RUN} is not there"
    if not shutil.which("qemu-system-x86_64") or not list(Path("/boot").glob("vmlinuz-*")):
        return "qemu-system-x86 and linux-image-amd64 are not installed (run tools/setup.sh)"
    return ""


def test_what_this_kernel_lacks_passes_under_debians_kernel() -> None:
    reason = missing()
    if reason:
        pytest.skip(f"Debian's kernel under kvm-run: {reason}")
    argv = [sys.executable, str(KVM_RUN), "--accel", "auto", "--mem", "2G", "--cpus", "2", "--timeout", "1500", "--",
            "env", "SNF_INSIDE_KVM_RUN=1", sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
            *INSIDE]
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False, timeout=1800)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "SKIPPED" not in output and " passed" in output, output[-4000:]
