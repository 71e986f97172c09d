"""Upgrading from GRNET's bash snf-network: the rules its scripts left for a tap go, and nothing else.

The rules are made with the same commands its common.sh ran (reference
snf-network.md section 3), through Debian's iptables-nft, ip6tables-nft,
arptables-nft and ebtables-nft, in a throwaway namespace; remove_legacy_rules
runs inside it.
"""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from tests.lab import Lab

pytestmark = pytest.mark.kernel

MAC = "aa:00:00:12:34:56"
MAC_MASK = "ff:ff:f0:00:00:00"


def old_scripts(tap: str, ip: str, eui64: str) -> list[list[str]]:
    """What kvm-ifup-custom 0.16 ran for a tap: routed and bridged set-ups, firewall jumps of both."""
    upper = tap.upper()
    return [
        # routed_setup_ipv4 / routed_setup_ipv6
        ["arptables", "-A", "OUTPUT", "-o", tap, "--opcode", "request", "-j", "mangle", "--mangle-ip-s", "192.0.2.1"],
        ["iptables", "-A", "FORWARD", "-i", tap, "!", "-s", ip, "-j", "DROP", "-m", "comment", "--comment",
         "snf-network_routed"],
        ["ip6tables", "-A", "FORWARD", "-i", tap, "!", "-s", eui64, "-j", "DROP", "-m", "comment", "--comment",
         "snf-network_routed"],
        # <= 0.14's DHCP drop, which later versions still deleted
        ["iptables", "-A", "FORWARD", "-i", tap, "-p", "udp", "--dport", "67", "-j", "DROP"],
        # routed_setup_firewall and bridged_setup_firewall
        *([command, "-A", "FORWARD", "-o", tap, "-j", "protected", "-m", "comment", "--comment",
           "snf-network_firewall"] for command in ("iptables", "ip6tables")),
        *([command, "-I", "FORWARD", "-m", "physdev", "--physdev-out", tap, "-j", "protected", "-m", "comment",
           "--comment", "snf-network_firewall"] for command in ("iptables", "ip6tables")),
        # init_ebtables / setup_ebtables
        ["ebtables", "-N", f"FROM{upper}", "-P", "RETURN"],
        ["ebtables", "-A", "FORWARD", "-i", tap, "-j", f"FROM{upper}"],
        ["ebtables", "-A", "INPUT", "-i", tap, "-j", f"FROM{upper}"],
        ["ebtables", "-N", f"TO{upper}", "-P", "RETURN"],
        ["ebtables", "-A", "FORWARD", "-o", tap, "-j", f"TO{upper}"],
        ["ebtables", "-A", "OUTPUT", "-o", tap, "-j", f"TO{upper}"],
        ["ebtables", "-A", f"FROM{upper}", "-s", "!", MAC, "-j", "DROP"],
        ["ebtables", "-A", f"TO{upper}", "-s", "!", f"{MAC}/{MAC_MASK}", "-j", "DROP"],
    ]


# An administrator's rules, each of which must stay: in the legacy chains but
# not about tap1 (another address, a comment naming it, a wildcard), in a chain
# the old scripts never used, and in a native nft table.
PROFILES = [["iptables", "-N", "protected"], ["ip6tables", "-N", "protected"]]  # ferm made them
ADMIN = [
    *PROFILES,
    ["iptables", "-A", "FORWARD", "-s", "203.0.113.0/24", "-m", "comment", "--comment", "trusted, see tap1",
     "-j", "ACCEPT"],
    ["iptables", "-A", "FORWARD", "-i", "tap+", "-p", "tcp", "--dport", "25", "-j", "DROP"],
    ["iptables", "-A", "INPUT", "-i", "tap1", "-p", "udp", "--dport", "53", "-j", "ACCEPT"],
    ["ebtables", "-A", "FORWARD", "-p", "IPv4", "--ip-proto", "udp", "--ip-dport", "5353", "-j", "DROP"],
    ["arptables", "-A", "OUTPUT", "-o", "eth0", "--opcode", "request", "-j", "mangle", "--mangle-ip-s",
     "198.51.100.254"],
    ["nft", "add table inet admin; add chain inet admin forward { type filter hook forward priority 10; }; "
            "add rule inet admin forward iifname tap1 counter accept"],
]


def ruleset(lab: Lab, node: str) -> str:
    return lab.ns(node, "nft", "list", "ruleset").stdout


def remove(lab: Lab, node: str, tap: str) -> list[str]:
    code = ("import json, sys; from snf_network.host import Host; "
            "print(json.dumps(Host().remove_legacy_rules(sys.argv[1])))")
    result = lab.ns(node, sys.executable, "-c", code, tap)
    removed: list[str] = json.loads(result.stdout)
    return removed


@pytest.fixture
def node(lab: Lab) -> str:
    for program in ("iptables", "ip6tables", "arptables", "ebtables"):
        if shutil.which(program) is None:
            pytest.skip(f"legacy rules test skipped: {program} is not installed (tools/setup.sh installs it)")
    return lab.netns(lab.node)


def test_only_the_taps_own_legacy_rules_go(lab: Lab, node: str) -> None:
    for command in [*ADMIN, *old_scripts("tap10", "192.0.2.11", "2001:db8:1::11")]:
        lab.ns(node, *command)
    before = ruleset(lab, node)
    for command in old_scripts("tap1", "192.0.2.10", "2001:db8:1::10"):
        lab.ns(node, *command)
    assert ruleset(lab, node) != before

    removed = remove(lab, node, "tap1")

    assert ruleset(lab, node) == before, "exactly tap1's rules and chains should be gone"
    # 4 ip, 3 ip6 (the physdev jumps too), 1 arp, 4 bridge jumps and the 2 chains.
    assert len(removed) == 14, removed
    assert "bridge filter chain FROMTAP1" in removed and "bridge filter chain TOTAP1" in removed
    assert any(line.startswith("ip filter FORWARD: ") and '"tap1"' in line and "drop" in line
               for line in removed), removed
    assert not any('"tap10"' in line for line in removed), removed
    # Nothing is left to do: the second call (every later ifup) finds nothing.
    assert remove(lab, node, "tap1") == []


def test_nothing_to_remove(lab: Lab, node: str) -> None:
    # No xtables table at all (a node that never had the old package) ...
    assert remove(lab, node, "tap1") == []
    # ... and only other taps' rules and the administrator's.
    for command in [*ADMIN, *old_scripts("tap10", "192.0.2.11", "2001:db8:1::11")]:
        lab.ns(node, *command)
    before = ruleset(lab, node)
    assert remove(lab, node, "tap1") == []
    assert remove(lab, node, "tap") == []
    assert ruleset(lab, node) == before


def test_xen_vif_names(lab: Lab, node: str) -> None:
    # Xen's vif1.0: the dot is a plain character, not "any character" as in grep -w.
    for command in [*PROFILES, *old_scripts("vif1.0", "192.0.2.10", "2001:db8:1::10"),
                    *old_scripts("vif110", "192.0.2.11", "2001:db8:1::11")]:
        lab.ns(node, *command)
    removed = remove(lab, node, "vif1.0")
    assert "bridge filter chain FROMVIF1.0" in removed, removed
    left = ruleset(lab, node)
    assert '"vif1.0"' not in left and "FROMVIF1.0" not in left
    assert '"vif110"' in left and "FROMVIF110" in left
