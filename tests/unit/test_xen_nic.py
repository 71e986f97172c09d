"""Ganeti's Xen NIC files in every format, read as Ganeti meant them (never sourced)."""

from __future__ import annotations

import os
import re
import subprocess
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import pytest

from snf_network import nic, xen_nic
from snf_network.errors import InputError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "xen"
ROUTED = ("ganeti-2.9", "ganeti-2.10", "ganeti-2.12", "ganeti-3.1")


def xen_nic_from(name: str, vif: str = "vif5.0") -> nic.Nic:
    values = xen_nic.read(str(FIXTURES / name))
    return nic.from_env(xen_nic.nic_environment(values, "xenvm1.example.org"), interface=vif, hypervisor="xen")


@pytest.mark.parametrize("name", ROUTED)
def test_every_format_gives_the_same_routed_nic(name: str) -> None:
    parsed = xen_nic_from(name)
    assert (parsed.instance, parsed.interface, parsed.hypervisor) == ("xenvm1.example.org", "vif5.0", "xen")
    assert (parsed.mac, parsed.mode, parsed.link) == ("aa:00:00:12:34:56", "routed", "100")
    assert parsed.ip == IPv4Address("192.0.2.10")
    assert parsed.network.tags == ("ip-less-routed", "nfdhcpd")
    assert parsed.eui64 == IPv6Address("2001:db8:1::a800:ff:fe12:3456")
    assert parsed.network.name == "public"


@pytest.mark.parametrize("name", ["ganeti-2.10", "ganeti-2.12", "ganeti-3.1"])
def test_instance_tags_lose_ganetis_backslashes(name: str) -> None:
    # 3.1 writes TAGS="a\ b": sourced, that is "a\" and "b" (the original's tag bug).
    assert xen_nic_from(name).tags == ("synnefo:network:0:protected", "foo")


def test_what_changed_between_versions() -> None:
    assert "TAGS" not in xen_nic.read(str(FIXTURES / "ganeti-2.9"))
    assert "VLAN" not in xen_nic.read(str(FIXTURES / "ganeti-2.10"))
    assert xen_nic.read(str(FIXTURES / "ganeti-2.12"))["VLAN"] == ""
    assert xen_nic_from("ganeti-2.9").index is None
    assert xen_nic_from("ganeti-3.1").index == 0
    assert xen_nic_from("ganeti-3.1").name == "eth0"


def test_ip_none_means_no_address() -> None:
    parsed = xen_nic_from("ganeti-2.9-no-ip")
    assert parsed.ip is None
    assert parsed.eui64 == IPv6Address("2001:db8:1::a800:ff:fe12:3456")


def test_the_instance_and_interface_come_from_xen_not_the_file() -> None:
    values = xen_nic.parse("INSTANCE=evil\nINTERFACE=eth0\nHYPERVISOR=kvm\nMAC=aa:00:00:00:00:01\nMODE=routed\n")
    env = xen_nic.nic_environment(values, "vm1.example.org")
    assert env["INSTANCE"] == "vm1.example.org" and "INTERFACE" not in env and "HYPERVISOR" not in env


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ('KEY="a b"', "a b"),
        ("KEY='a \"b\" $c'", 'a "b" $c'),
        (r'KEY="a\"b\\c"', 'a"b\\c'),
        (r"KEY=a\ b", "a b"),
        ("KEY=", ""),
        ('KEY=""', ""),
        ("KEY=value # a comment", "value"),
        ("  export_not=1  ", "1"),
    ],
)
def test_shell_words(line: str, value: str) -> None:
    assert list(xen_nic.parse(line).values()) == [value]


@pytest.mark.parametrize("name", [*ROUTED, "ganeti-2.9-no-ip", "ganeti-3.1-bridged"])
def test_we_read_what_bash_reads_but_for_ganetis_bugs(name: str) -> None:
    """Source each fixture with bash: every value agrees, except the tag lists Ganeti broke."""
    path = FIXTURES / name
    script = f"set -a; . {path} 2>/dev/null; env -0"  # set -a: every assignment exported
    result = subprocess.run(["bash", "-c", script], env={"PATH": os.environ["PATH"]}, capture_output=True,
                            check=False)
    sourced = dict(item.split("=", 1) for item in result.stdout.decode().split("\0") if "=" in item)
    ours = xen_nic.read(str(path))
    compared = 0
    for key, value in ours.items():
        if key in xen_nic.TAG_KEYS and (sourced.get(key) != value):
            # 2.10-2.12's NETWORK_TAGS=a b (bash runs "b"), 2.13+'s TAGS="a\ b" (bash keeps
            # the backslash): we read what Ganeti meant, the tags without backslashes.
            assert "\\" in sourced.get(key, "") or key not in sourced, key
            continue
        assert sourced[key] == value, key
        compared += 1
    assert compared >= 5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("MAC=$(reboot)", "shell expansion ($)"),
        ('MAC="`reboot`"', "shell expansion (`)"),
        ('MAC="$HOME"', "shell expansion ($)"),
        ("MAC=a;reboot", "shell syntax (;) is not allowed"),
        ("MAC='abc", "unterminated single quote"),
        ('MAC="abc', "unterminated double quote"),
        ("reboot", "expected KEY=value"),
        ("1KEY=x", "expected KEY=value"),
    ],
)
def test_anything_else_is_refused_with_its_line(text: str, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)) as caught:
        xen_nic.parse("MODE=routed\n" + text, "nicfile")
    assert "nicfile:2:" in str(caught.value)


def test_missing_and_huge_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        xen_nic.read(str(tmp_path / "0"))
    huge = tmp_path / "1"
    huge.write_text("A=" + "x" * (xen_nic.MAX_SIZE + 10))
    with pytest.raises(InputError, match="not a Ganeti NIC file"):
        xen_nic.read(str(huge))


def test_a_nic_file_gets_the_same_checks_as_kvm_ifup() -> None:
    values = xen_nic.read(str(FIXTURES / "ganeti-3.1"))
    env = xen_nic.nic_environment(values, "xenvm1.example.org")
    with pytest.raises(InputError, match=r"^IP: the network's gateway \(NETWORK_GATEWAY\)"):
        nic.from_env({**env, "IP": env["NETWORK_GATEWAY"]}, interface="vif5.0", hypervisor="xen")
    with pytest.raises(InputError, match=r"^INTERFACE: /proc/sys/net/\*/conf/all holds settings"):
        nic.from_env(env, interface="all", hypervisor="xen")
    assert nic.from_env(env, interface="vif5.0", hypervisor="xen").hypervisor == "xen"
