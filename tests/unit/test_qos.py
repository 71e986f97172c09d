"""The qos tags: what parses, what is refused (one line), which limit a NIC gets."""

from __future__ import annotations

import pytest

from snf_network import config, features, qos
from snf_network.errors import InputError
from snf_network.nic import Network, Nic
from snf_network.plan import Facts, IfbLink, IngressRedirect, Shaper

CFG = config.from_text("")


def nic(tags: tuple[str, ...] = (), network_tags: tuple[str, ...] = (), interface: str = "tap3",
        mode: str = "bridged") -> Nic:
    return Nic("vm1.example.org", "aa:00:00:12:34:56", mode, interface=interface, link="br0", index=0,
               uuid="4e3c2a10-0000-4000-8000-000000000001", name="web", tags=tags,
               network=Network(tags=network_tags))


@pytest.mark.parametrize(("text", "bits"), [
    ("20mbit", 20_000_000), ("512kbit", 512_000), ("1gbit", 10**9), ("1Gbit", 10**9), ("100kbps", 800_000),
    ("8000bit", 8000), ("400gbit", 400 * 10**9),
])
def test_rates_in_tc_units(text: str, bits: int) -> None:
    assert qos.parse_rate(text, "TAGS") == bits


@pytest.mark.parametrize("text", ["20", "mbit", "20 mbit", "2.5mbit", "-1mbit", "20mib", "7999bit", "401gbit",
                                  "1" * 16 + "bit", "20mbit\n"])
def test_bad_rates_are_one_line(text: str) -> None:
    with pytest.raises(InputError) as error:
        qos.parse_rate(text, "TAGS")
    assert "\n" not in str(error.value) and str(error.value).startswith("TAGS: rate ")


@pytest.mark.parametrize(("text", "size"), [("64kb", 65536), ("1mb", 1024**2), ("1600", 1600), ("2k", 2048)])
def test_bursts_in_bytes(text: str, size: int) -> None:
    assert qos.parse_burst(text, 10**9, "TAGS") == size


def test_a_burst_is_at_least_a_frame_and_at_most_ten_seconds_at_the_rate() -> None:
    with pytest.raises(InputError, match="from 1600 bytes"):
        qos.parse_burst("1kb", 10**9, "TAGS")
    with pytest.raises(InputError, match="at most 10 s"):
        qos.parse_burst("1mb", 8000, "TAGS")  # 1000 bytes per second


def test_the_nic_s_own_tag_wins_by_index_name_or_uuid() -> None:
    for ident in ("0", "web", "4e3c2a10-0000-4000-8000-000000000001"):
        limit = qos.limit_for(nic((f"snf-network:qos:{ident}:5mbit",), ("qos:20mbit",)), CFG)
        assert limit is not None and limit.rate == 5_000_000
    limit = qos.limit_for(nic(("snf-network:qos:1:5mbit",), ("qos:20mbit:64kb",)), CFG)
    assert limit is not None and (limit.rate, limit.burst) == (20_000_000, 65536)
    assert qos.limit_for(nic(("snf-network:qos:1:5mbit",)), CFG) is None


@pytest.mark.parametrize(("tags", "network_tags", "message"), [
    (("snf-network:qos:0:5mbit", "snf-network:qos:0:6mbit"), (), "already has another qos tag"),
    (("snf-network:qos:0:5mbit", "snf-network:qos:web:6mbit"), (), "name the same NIC with different limits"),
    (("snf-network:qos:0",), (), "expected snf-network:qos:<nic index|name|uuid>"),
    (("snf-network:qos:7:5mbit:1mb:x",), (), "expected <rate>[:<burst>]"),
    ((), ("qos:5mbit", "qos:6mbit"), "the network already has another qos tag"),
    ((), ("qos:",), "expected <rate>[:<burst>]"),
])
def test_conflicting_or_malformed_tags_refuse_the_nic(tags: tuple[str, ...], network_tags: tuple[str, ...],
                                                      message: str) -> None:
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("|", r"\|")):
        features.chosen(nic(tags, network_tags), CFG)


def test_the_same_limit_twice_is_fine_and_the_tag_name_is_configurable() -> None:
    assert qos.limit_for(nic(("snf-network:qos:0:5mbit", "snf-network:qos:web:5mbit")), CFG) is not None
    cfg = config.from_text("QOS_TAG=bandwidth\n")
    limit = qos.limit_for(nic(network_tags=("bandwidth:1gbit", "qos:nonsense")), cfg)
    assert limit is not None and limit.rate == 10**9


def test_a_limited_nic_plans_both_directions_in_every_mode() -> None:
    for mode in ("routed", "bridged"):
        result = features.plan(nic(("snf-network:qos:0:20mbit",), mode=mode),
                               CFG, Facts(interface_mac="52:54:00:aa:bb:cc", bridge_mtu=1500))
        assert "qos" in result.features
        assert [item for item in result.items if item.kind in ("shaper", "ifb", "ingress_redirect")] == [
            Shaper("tap3", 20_000_000), IfbLink("ifbtap3", "tap3"), Shaper("ifbtap3", 20_000_000),
            IngressRedirect("tap3", "ifbtap3")]


def test_an_open_vswitch_nic_gets_no_tc_limit() -> None:
    """ovs-vswitchd deletes a port's tc state at add-port: tc would claim a limit it does not keep."""
    from snf_network.features import qos as qos_feature

    assert not qos_feature.FEATURE.applies(nic(("snf-network:qos:0:20mbit",), mode="openvswitch"), CFG)
    assert qos_feature.FEATURE.applies(nic(("snf-network:qos:0:20mbit",), mode="bridged"), CFG)


def test_ifb_names_are_deterministic_and_fit_ifnamsiz() -> None:
    assert qos.ifb_name("tap3") == "ifbtap3" and qos.ifb_name("vif12.0") == "ifbvif12.0"
    long = qos.ifb_name("tap-long-name15")
    assert long == qos.ifb_name("tap-long-name15") and len(long) == 15 and long != qos.ifb_name("tap-long-name16")
