"""Rendering for the host backends: nft transactions and ip batch lines."""

from __future__ import annotations

from snf_network import config, profiles
from snf_network.host import ip, nft
from snf_network.plan import Link, NftElement, ProxyNeighbour, Route, Rule


def test_removing_an_element_never_aborts_the_transaction() -> None:
    element = NftElement("inet", "ip4_ok", '"tap3" . 192.0.2.10')
    commands = nft.element_commands([], [element])
    # nft aborts a whole transaction on deleting a missing element: add it first.
    assert commands == [
        'add element inet snf ip4_ok { "tap3" . 192.0.2.10 }',
        'delete element inet snf ip4_ok { "tap3" . 192.0.2.10 }',
    ]


BUILTIN = tuple(profiles.BUILTIN.items())


def test_ruleset_marker_follows_the_configuration_and_the_profiles() -> None:
    default = config.from_text("")
    changed = config.from_text("DHCP_SERVER=nfdhcpd\nNFDHCPD_DHCP_QUEUE=7")
    assert nft.marker(default, BUILTIN) == nft.marker(config.from_text(""), BUILTIN)
    assert nft.marker(default, BUILTIN) != nft.marker(changed, BUILTIN)
    assert nft.marker(default, BUILTIN) != nft.marker(default, (*BUILTIN, ("web", ("tcp dport 80 accept",))))
    assert "queue num 7" in nft.ruleset(changed, BUILTIN)
    assert "queue" not in nft.ruleset(changed, BUILTIN, with_queues=False)


def test_snf_dhcpd_gets_drop_rules_for_what_it_answers_and_no_queues() -> None:
    for with_queues in (True, False):
        text = nft.ruleset(config.from_text(""), BUILTIN, with_queues=with_queues)
        assert "queue" not in text
        for rule in ("iifname @dhcp_ports udp dport 67 drop", "iifname @dhcp_ports icmpv6 type nd-router-solicit drop",
                     "iifname @dhcp_ports udp dport 547 drop"):
            assert rule in text
        assert "nd-neighbor-solicit drop" not in text  # the kernel answers for the tap's link-local


def test_every_profile_is_stateful_and_lets_icmp_through() -> None:
    text = nft.ruleset(config.from_text(""), (*BUILTIN, ("web", ("tcp dport { 80, 443 } accept",))))
    for name in ("protected", "limited", "unprotected", "web"):
        chain = text.split(f"chain profile_{name} {{")[1].split("}\n")[0]
        lines = [line.strip() for line in chain.splitlines() if line.strip()]
        assert lines[:3] == ["ct state established,related accept", "ct state invalid drop",
                             "meta l4proto { icmp, ipv6-icmp } accept"]
        assert lines[-1] == "drop"
    assert f"0x{profiles.mark('web'):08x} : jump profile_web" in text


def test_rules_are_deleted_before_added_and_only_adds_must_succeed() -> None:
    lines = ip.add_lines(Rule(6, "tap3", "100"))
    assert [(line.family, line.text, line.must_succeed) for line in lines] == [
        (6, "rule del iif tap3 lookup 100", False),
        (6, "rule add iif tap3 lookup 100", True),
    ]


def test_removals_are_tolerant() -> None:
    items = [Link("tap3", master="br0"), Rule(4, "tap3", "100"), Route(4, "192.0.2.10/32", "tap3", "100"),
             ProxyNeighbour("2001:db8::1", "eth0")]
    lines = [line for item in items for line in ip.remove_lines(item)]
    assert [line.text for line in lines] == [
        "link set dev tap3 nomaster",
        "link set dev tap3 down",
        "rule del iif tap3 lookup 100",
        "route del 192.0.2.10/32 dev tap3 table 100",
        "neigh del proxy 2001:db8::1 dev eth0",
    ]
    assert not any(line.must_succeed for line in lines)
