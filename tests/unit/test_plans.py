"""Golden files: what each captured Ganeti environment plans, rendered as the CLI shows it.

Set SNF_UPDATE_GOLDEN=1 to rewrite them after a deliberate change, and read the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from snf_network import config, features
from snf_network import nic as nic_module
from snf_network.entry.cli import render
from snf_network.errors import InputError
from snf_network.plan import Facts, item_from_dict, item_to_dict

FIXTURES = Path(__file__).parents[1] / "fixtures" / "env"
GOLDEN = Path(__file__).parents[1] / "golden"
CONFIG = config.from_text("NFDHCPD_STATE_DIR=/var/lib/nfdhcpd\n")
FACTS = Facts(interface_mac="52:54:00:aa:bb:cc", uplinks4=("eth0",), uplinks6=("eth0", "eth1"),
              bridge_mtu=9000)


def load_env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key: value for key, value in pairs}


@pytest.mark.parametrize("case", sorted(path.stem for path in FIXTURES.glob("*.env")))
def test_plan_matches_golden(case: str) -> None:
    nic = nic_module.from_env(load_env(FIXTURES / f"{case}.env"))
    result = features.plan(nic, CONFIG, FACTS)
    rendered = render(nic, CONFIG, result)
    golden = GOLDEN / f"{case}.plan"
    if os.environ.get("SNF_UPDATE_GOLDEN"):
        golden.write_text(rendered)
    assert rendered == golden.read_text()


def test_items_round_trip_through_the_record_format() -> None:
    nic = nic_module.from_env(load_env(FIXTURES / "routed_dual_nfdhcpd.env"))
    for item in features.plan(nic, CONFIG, FACTS).items:
        assert item_from_dict(item_to_dict(item)) == item


def test_missing_ip_never_touches_a_default_route() -> None:
    nic = nic_module.from_env(load_env(FIXTURES / "routed_ipv6_only_no_ip.env"))
    result = features.plan(nic, CONFIG, FACTS)
    routes = [item for item in result.items if item.kind == "route"]
    assert routes and all(item.destination.endswith("/128") for item in routes)
    assert any("IPv4 skipped: IP, NETWORK_GATEWAY not set" in note for note in result.notes)


def test_openvswitch_is_refused_rather_than_left_dead() -> None:
    env = {**load_env(FIXTURES / "bridged_plain.env"), "MODE": "openvswitch"}
    with pytest.raises(InputError, match="openvswitch NICs are not supported"):
        features.plan(nic_module.from_env(env), CONFIG, FACTS)


def test_bridged_needs_an_existing_bridge() -> None:
    nic = nic_module.from_env(load_env(FIXTURES / "bridged_plain.env"))
    with pytest.raises(InputError, match="bridge br0 does not exist"):
        features.plan(nic, CONFIG, Facts())


def test_vlans_on_bridged_nics_are_refused_rather_than_ignored() -> None:
    env = {**load_env(FIXTURES / "bridged_plain.env"), "VLAN": ".100"}
    with pytest.raises(InputError, match=r"VLAN: \.100: VLANs on bridged NICs are not supported"):
        features.plan(nic_module.from_env(env), CONFIG, FACTS)


def test_bridged_plans_do_not_depend_on_the_taps_current_mac() -> None:
    nic = nic_module.from_env(load_env(FIXTURES / "bridged_plain.env"))
    first = features.plan(nic, CONFIG, FACTS).items
    again = features.plan(nic, CONFIG, Facts(interface_mac="fe:54:00:aa:bb:cc", uplinks4=("eth0",),
                                             uplinks6=("eth0", "eth1"), bridge_mtu=9000)).items
    assert first == again


def test_a_tag_naming_a_profile_that_is_not_defined_refuses_the_nic() -> None:
    """Fail closed: the NIC would otherwise start unfiltered (a tag for another NIC does not count)."""
    env = load_env(FIXTURES / "bridged_private_filtered.env")
    nic = nic_module.from_env({**env, "TAGS": "limited synnefo:network:0:nonexistent"})
    with pytest.raises(InputError, match="TAGS: 'synnefo:network:0:nonexistent': names no firewall profile"):
        features.plan(nic, CONFIG, FACTS)
    other = nic_module.from_env({**env, "TAGS": "synnefo:network:1:nonexistent"})
    assert "firewall" in features.plan(other, CONFIG, FACTS).features
