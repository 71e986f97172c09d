"""Binding files: the writer (the nfdhcpd feature) and the readers (nfdhcpd's rules, snf-dhcpd) agree."""

from __future__ import annotations

import pytest

from snf_network import config, features
from snf_network import nic as nic_module
from snf_network.dhcpd.binding import BindingError, load, parse, render
from snf_network.plan import BindingFile, Facts
from tests.unit.test_plans import FIXTURES, load_env

CFG = config.from_text("NFDHCPD_STATE_DIR=/var/lib/nfdhcpd\n")


def written(case: str, facts: Facts) -> tuple[str, str]:
    nic = nic_module.from_env(load_env(FIXTURES / f"{case}.env"))
    plan = features.plan(nic, CFG, facts)
    [item] = [item for item in plan.items if isinstance(item, BindingFile)]
    return item.path.rsplit("/", 1)[1], item.content


def test_the_written_binding_reads_back_as_the_nic_it_came_from() -> None:
    name, text = written("routed_dual_nfdhcpd", Facts(uplinks4=("eth0",), uplinks6=("eth0",), uplink_mtu=1450))
    binding = load(name, text)
    assert binding.interface == binding.indev == name and not binding.bridged
    assert binding.mac.hex(":") == "aa:00:00:12:34:56"
    assert str(binding.ip) == "192.0.2.10" and str(binding.subnet) == "192.0.2.0/24"
    assert str(binding.gateway) == "192.0.2.1" and str(binding.subnet6) == "2001:db8:1::/64"
    assert str(binding.gateway6) == "2001:db8:1::1" and binding.mtu == 1450
    assert binding.hostname == "vm1.example.org"
    # And render(parse(x)) is x: nothing the writer wrote is lost or changed by nfdhcpd's parser.
    assert render(parse(text)) == text


def test_bridged_bindings_reply_from_the_bridge_with_its_mtu() -> None:
    name, text = written("bridged_nfdhcpd", Facts(bridge_mtu=9000, interface_mac="fe:00:00:00:00:01"))
    binding = load(name, text)
    assert binding.bridged and binding.indev != name and binding.mtu == 9000


def test_no_mtu_known_writes_no_mtu_line() -> None:
    # nfdhcpd's int() of an empty MTU= throws the whole binding away.
    _, text = written("routed_dual_nfdhcpd", Facts(uplinks4=("eth0",), uplinks6=("eth0",)))
    assert "MTU" not in text


def test_parse_reads_exactly_like_nfdhcpd() -> None:
    text = ("IP=192.0.2.1\nIP=192.0.2.2\n HOSTNAME=ignored\nHOSTNAME=\"q\"\nMAC=aa:bb:cc:dd:ee:ff=junk\n"
            "SUBNET6=\nTAGS=\"a b\"\nGATEWAY= 192.0.2.1 \r\nMACSPOOF=0\n")
    # Later lines win, the key starts the line, no quote handling, the value
    # ends at a second "=", the line (not the value) is stripped, empty is unset.
    assert parse(text) == {"IP": "192.0.2.2", "HOSTNAME": '"q"', "MAC": "aa:bb:cc:dd:ee:ff",
                           "GATEWAY": " 192.0.2.1", "MACSPOOF": "0"}


@pytest.mark.parametrize("text, error", [
    ("HOSTNAME=x\n", "no MAC"),
    ("MAC=aa:bb:cc:dd:ee:ff\n", "no HOSTNAME"),
    ("MAC=aa:bb:cc:dd:ee\nHOSTNAME=x\n", "MAC is not"),
    ("MAC=aa:bb:cc:dd:ee:ff\nHOSTNAME=x\nSUBNET=192.0.2.1/24\n", "SUBNET is not a network"),
    ("MAC=aa:bb:cc:dd:ee:ff\nHOSTNAME=x\nIP=2001:db8::1\n", "IP is not an IPv4"),
    ("MAC=aa:bb:cc:dd:ee:ff\nHOSTNAME=x\nMTU=abc\n", "MTU is not"),
    ("MAC=aa:bb:cc:dd:ee:ff\nHOSTNAME=x\nSUBNET6=192.0.2.0/24\n", "wrong family"),
    # INDEV goes into /sys/class/net/INDEV/address: never a path.
    ("MAC=aa:bb:cc:dd:ee:ff\nHOSTNAME=x\nINDEV=../../../etc\n", "INDEV is not an interface name"),
    ("MAC=aa:bb:cc:dd:ee:ff\nHOSTNAME=x\nINDEV=br0 x\n", "INDEV is not an interface name"),
])
def test_bad_bindings_are_refused_with_the_reason(text: str, error: str) -> None:
    with pytest.raises(BindingError, match=error):
        load("tap1", text)


def test_private_and_macspoof_count_when_set_to_anything() -> None:
    binding = load("tap1", "MAC=aa:bb:cc:dd:ee:ff\nHOSTNAME=x\nPRIVATE=0\nMACSPOOF=no\n")
    assert binding.private and binding.macspoof


def test_render_refuses_what_nfdhcpd_would_read_back_differently() -> None:
    for value in ("a=b", "a\nb", " a"):
        with pytest.raises(BindingError):
            render({"HOSTNAME": value})
    with pytest.raises(BindingError):
        render({"NOT_A_KEY": "x"})
    assert render({"IP": "", "MAC": "aa:bb:cc:dd:ee:ff"}) == "MAC=aa:bb:cc:dd:ee:ff\n"


@pytest.mark.parametrize("name", ["tap1\nsnf-dhcpd: CRITICAL: forged", "tap\udcff", "..", "a-name-far-too-long",
                                  "tap:1", ""])
def test_a_file_name_that_is_no_interface_name_is_refused(name: str) -> None:
    with pytest.raises(BindingError, match="the file name is not an interface name"):
        load(name, "MAC=aa:bb:cc:dd:ee:ff\nHOSTNAME=x\n")
