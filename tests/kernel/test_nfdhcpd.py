"""The nfdhcpd tag's queues (DHCP_SERVER=nfdhcpd), and the shipped ifup-extra example."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.lab import Lab

pytestmark = pytest.mark.kernel

EXAMPLE = Path(__file__).parents[2] / "scripts" / "ifup-extra.example"


def kernel_queues(lab: Lab) -> bool:
    """Whether this kernel can queue packets from nftables (CONFIG_NFT_QUEUE)."""
    # Loaded for real, not with "nft -c": a check does not make the kernel
    # load nft_queue's module, so it fails where the real rule would work.
    probe = ("table inet snf_probe {\n chain c {\n  type filter hook prerouting priority 0;\n"
             "  udp dport 9 queue num 1\n }\n}\ndelete table inet snf_probe\n")
    result = subprocess.run(["ip", "netns", "exec", lab.node, "nft", "-f", "-"], input=probe,
                            capture_output=True, text=True, check=False)
    return result.returncode == 0


def test_queues_for_nfdhcpd_or_a_warning_where_the_kernel_cannot(lab: Lab) -> None:
    lab.build(extra_config="DHCP_SERVER=nfdhcpd\n")  # GRNET's daemon: today's queue rules
    vm = lab.add_vm(1, "aa:00:00:12:34:56")
    lab.program("kvm-vif-bridge", lab.ganeti_env(vm, ip="192.0.2.10", tags="ip-less-routed nfdhcpd"))
    chain = lab.ns(lab.node, "nft", "list", "chain", "inet", "snf", "nfdhcpd").stdout
    log = (lab.workdir / "snf-network.log").read_text()
    if kernel_queues(lab):
        # nft 1.0.6 prints "queue num 42 bypass" back as "queue flags bypass to 42".
        for line in ("udp dport 67 queue flags bypass to 42", "nd-router-solicit queue flags bypass to 43",
                     "nd-neighbor-solicit queue flags bypass to 44", "udp dport 547 queue flags bypass to 45"):
            assert line in chain, chain
        assert "cannot queue" not in log
    else:
        assert "queue" not in chain
        assert "this kernel cannot queue packets from nftables (nft_queue)" in log
        # User-mode Linux has nft_queue but no inet or arp nftables families
        # (checked: "Operation not supported"), so it cannot host our ruleset.
        pytest.skip("this kernel lacks nft_queue (CONFIG_NFT_QUEUE): the warning was checked; the queue rules "
                    "are tested under Debian's kernel by tests/kernel/test_debian_kernel.py")


def test_the_shipped_extra_script_example_works(lab: Lab) -> None:
    lab.build()
    vm = lab.add_vm(1, "aa:00:00:12:34:56")
    shutil.copy(EXAMPLE, lab.workdir / "ifup-extra")
    env = lab.ganeti_env(vm, ip="192.0.2.10", TAGS="example:mail")
    lab.program("kvm-vif-bridge", env)
    assert '"tap1"' in lab.ns(lab.node, "nft", "list", "set", "inet", "example_extra", "mail_ok").stdout
    lab.program("kvm-vif-bridge", {**env, "TAGS": ""})  # the tag is gone: so is the permission
    assert '"tap1"' not in lab.ns(lab.node, "nft", "list", "set", "inet", "example_extra", "mail_ok").stdout

