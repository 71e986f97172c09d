"""Rendering for the host backends: nft transactions and ip batch lines."""

from __future__ import annotations

from snf_network import config
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


def test_ruleset_marker_follows_the_configuration() -> None:
    default = config.from_text("")
    changed = config.from_text("NFDHCPD_DHCP_QUEUE=7")
    assert nft.marker(default) == nft.marker(config.from_text(""))
    assert nft.marker(default) != nft.marker(changed)
    assert "queue num 7" in nft.ruleset(changed)
    assert "queue" not in nft.ruleset(changed, with_queues=False)


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
        "rule del iif tap3 lookup 100",
        "route del 192.0.2.10/32 dev tap3 table 100",
        "neigh del proxy 2001:db8::1 dev eth0",
    ]
    assert not any(line.must_succeed for line in lines)
