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
from snf_network.plan import Facts, OvsFlows, OvsPort, item_from_dict, item_to_dict

FIXTURES = Path(__file__).parents[1] / "fixtures" / "env"
GOLDEN = Path(__file__).parents[1] / "golden"
CONFIG = config.from_text("NFDHCPD_STATE_DIR=/var/lib/nfdhcpd\n")
FACTS = Facts(interface_mac="52:54:00:aa:bb:cc", uplinks4=("eth0",), uplinks6=("eth0", "eth1"),
              bridge_mtu=9000, vlan_filtering=True, vlan_uplinks=("eth1",))


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
    for case in ("routed_dual_nfdhcpd", "ovs_hybrid", "bridged_vlan_hybrid"):
        nic = nic_module.from_env(load_env(FIXTURES / f"{case}.env"))
        for item in features.plan(nic, CONFIG, FACTS).items:
            assert item_from_dict(item_to_dict(item)) == item


def test_missing_ip_never_touches_a_default_route() -> None:
    nic = nic_module.from_env(load_env(FIXTURES / "routed_ipv6_only_no_ip.env"))
    result = features.plan(nic, CONFIG, FACTS)
    routes = [item for item in result.items if item.kind == "route"]
    assert routes and all(item.destination.endswith("/128") for item in routes)
    assert any("IPv4 skipped: IP, NETWORK_GATEWAY not set" in note for note in result.notes)


def test_ext_is_refused_rather_than_left_dead() -> None:
    env = {**load_env(FIXTURES / "bridged_plain.env"), "MODE": "ext"}
    with pytest.raises(InputError, match="ext NICs are not supported"):
        features.plan(nic_module.from_env(env), CONFIG, FACTS)


@pytest.mark.parametrize(("vlan", "tag", "trunks", "mode"), [
    ("", 0, "", ""), ("100", 100, "", "access"), (".100", 100, "", "access"),
    (":200:100", 0, "100,200", "trunk"), (".100:200:300", 100, "100,200,300", "native-untagged"),
])
def test_ovs_ports_take_ganetis_documented_vlan_meaning(vlan: str, tag: int, trunks: str, mode: str) -> None:
    env = {**load_env(FIXTURES / "ovs_access.env"), "VLAN": vlan}
    [port] = [item for item in features.plan(nic_module.from_env(env), CONFIG, FACTS).items
              if isinstance(item, OvsPort)]
    assert (port.tag, port.trunks, port.vlan_mode) == (tag, trunks, mode)


@pytest.mark.parametrize(("vlan", "message"), [
    (".0", "VLAN 0 is outside 1-4094"), ("4095", "VLAN 4095 is outside 1-4094"),
    (".100:100", "a VLAN is named twice"), (":5:5", "a VLAN is named twice"),
])
def test_impossible_vlans_are_one_line(vlan: str, message: str) -> None:
    for case in ("ovs_access", "bridged_plain"):
        env = {**load_env(FIXTURES / f"{case}.env"), "VLAN": vlan}
        with pytest.raises(InputError, match=message):
            features.plan(nic_module.from_env(env), CONFIG, FACTS)


def test_mac_filtering_is_refused_on_ovs_ports_where_nft_cannot_see() -> None:
    env = {**load_env(FIXTURES / "ovs_access.env"), "NETWORK_TAGS": "private-filtered"}
    with pytest.raises(InputError, match="private-filtered is not enforced on Open vSwitch ports"):
        features.plan(nic_module.from_env(env), CONFIG, FACTS)


@pytest.mark.parametrize(("tags", "plans"), [
    ("synnefo:network:0:protected", False), ("protected", False), ("synnefo:network:0:nosuch", False),
    ("synnefo:network:7:protected", True),  # another NIC's profile
    ("synnefo:network:0", True),  # not a profile tag
])
def test_firewall_profiles_are_refused_on_ovs_ports_not_dropped(tags: str, plans: bool) -> None:
    nic = nic_module.from_env({**load_env(FIXTURES / "ovs_access.env"), "TAGS": tags})
    if plans:
        assert features.plan(nic, CONFIG, FACTS).items
        return
    with pytest.raises(InputError, match=r"firewall profiles are not enforced on Open vSwitch ports \(see "
                       r"docs/openvswitch.md\)"):
        features.plan(nic, CONFIG, FACTS)


def test_an_ovs_nic_s_limit_is_its_port_s_not_tc_on_the_tap() -> None:
    nic = nic_module.from_env(load_env(FIXTURES / "ovs_qos.env"))
    items = features.plan(nic, CONFIG, FACTS).items
    assert {item.kind for item in items}.isdisjoint({"shaper", "ifb", "ingress_redirect"})
    [port] = [item for item in items if isinstance(item, OvsPort)]
    assert (port.rate, port.burst) == (20_000_000, 65536)  # the instance's tag wins over the network's 1gbit


def test_a_bridge_without_vlan_filtering_refuses_a_vlan() -> None:
    nic = nic_module.from_env(load_env(FIXTURES / "bridged_vlan_hybrid.env"))
    with pytest.raises(InputError, match=r"bridge br0 does not filter VLANs \(ip link set br0 type bridge "
                       r"vlan_filtering 1\)"):
        features.plan(nic, CONFIG, Facts(interface_mac="52:54:00:aa:bb:cc", bridge_mtu=1500))


def test_ovs_cookies_are_ours_and_differ_by_port() -> None:
    from snf_network.host.ovs import COOKIE_PREFIX, cookie

    cookies = {cookie(f"tap{n}") for n in range(2000)}
    assert len(cookies) == 2000 and all(int(c, 16) >> 40 == COOKIE_PREFIX for c in cookies)
    assert cookie("tap1") == cookie("tap1")


def test_bridged_needs_an_existing_bridge() -> None:
    nic = nic_module.from_env(load_env(FIXTURES / "bridged_plain.env"))
    with pytest.raises(InputError, match="bridge br0 does not exist"):
        features.plan(nic, CONFIG, Facts())


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


def test_a_ports_flows_are_replaced_behind_its_catch_all_drop() -> None:
    """The port never meets the switch's NORMAL flow: its drop stays while the others are replaced."""
    from snf_network.host.ovs import BASE_BIT, flow_script

    nic = nic_module.from_env(load_env(FIXTURES / "ovs_access.env"))
    [guard] = [item for item in features.plan(nic, CONFIG, FACTS).items if isinstance(item, OvsFlows)]
    lines = flow_script([guard], [guard]).splitlines()
    base = f"0x{int(guard.cookie, 16) | BASE_BIT:016x}"
    assert lines[0].startswith(f"add priority=10,cookie={base},") and lines[0].endswith("actions=drop")
    assert lines[1] == f"delete cookie={guard.cookie}/-1"
    assert all(line.startswith("add ") and f"cookie={guard.cookie}," in line for line in lines[2:])
    # Removed: every flow of the port, its drop included (the cookie's mask leaves BASE_BIT out).
    assert flow_script([], [guard]) == f"delete cookie={guard.cookie}/0x{((1 << 64) - 1) & ~BASE_BIT:016x}\n"
