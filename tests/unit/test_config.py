from __future__ import annotations

import pytest

from snf_network import config
from snf_network.errors import ConfigError
from snf_network.host import Host


def test_defaults_are_the_originals() -> None:
    cfg = config.from_text("")
    assert cfg.STATE_DIR == "/var/lib/snf-network"
    assert cfg.LOGFILE == "/var/log/ganeti/snf-network.log"
    assert cfg.IFUP_EXTRA_SCRIPT == "/etc/ganeti/ifup-extra"
    assert cfg.MAC_MASK == "ff:ff:f0:00:00:00"
    assert cfg.TAP_CONSTANT_MAC == "cc:47:52:4e:45:54"
    assert cfg.NFDHCPD_STATE_DIR == "/var/lib/nfdhcpd"
    assert cfg.GANETI_NIC_DIR == "/var/run/ganeti/xen-hypervisor/nic"
    assert (cfg.MAC_FILTERED_TAG, cfg.NFDHCPD_TAG, cfg.IP_LESS_ROUTED_TAG) == (
        "private-filtered", "nfdhcpd", "ip-less-routed")
    assert (cfg.MASQ_TAG, cfg.PUBLIC_TAG, cfg.DNS_TAG) == ("masq", "public", "dns")
    assert (cfg.AUTHENTICATION_METHOD, cfg.SERVER, cfg.FZONE, cfg.TTL) == ("bind9", "", "", 300)
    assert (cfg.KEYFILE, cfg.KERBEROS_PRINCIPAL, cfg.KERBEROS_KEYTAB) == ("", "", "/etc/krb5.keytab")
    assert (cfg.NFDHCPD_DHCP_QUEUE, cfg.NFDHCPD_RS_QUEUE, cfg.NFDHCPD_NS_QUEUE,
            cfg.NFDHCPD_DHCPV6_QUEUE) == (42, 43, 44, 45)


def test_shell_syntax_is_parsed_not_executed() -> None:
    cfg = config.from_text(
        "# a comment\n"
        "export STATE_DIR=/srv/snf   # trailing comment\n"
        'KERBEROS_TICKET="$STATE_DIR/ticket"\n'
        "LOGFILE='/var/log/$literal'\n"
        "DNS_TAG=public\n"
        "TTL=\"60\"\n"
        "NFDHCPD_DHCP_QUEUE=7\n"
        "MAC2EUI64=/usr/bin/mac2eui64\n"  # obsolete: accepted silently
        "SOMETHING_NEW=1\n"
    )
    assert cfg.STATE_DIR == "/srv/snf"
    assert cfg.KERBEROS_TICKET == "/srv/snf/ticket"
    assert cfg.LOGFILE == "/var/log/$literal"
    assert (cfg.DNS_TAG, cfg.TTL, cfg.NFDHCPD_DHCP_QUEUE) == ("public", 60, 7)
    assert cfg.unknown_keys == ("SOMETHING_NEW",)


def test_expansion_of_a_default_key() -> None:
    assert config.from_text("KERBEROS_TICKET=${STATE_DIR}/t").KERBEROS_TICKET == "/var/lib/snf-network/t"


def test_empty_authentication_method_switches_dns_off() -> None:
    assert config.from_text("AUTHENTICATION_METHOD=").AUTHENTICATION_METHOD == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("AUTHENTICATION_METHOD=md5", "unknown authentication method"),
        ("MAC_MASK=ff:ff", "not a MAC address"),
        ("TAP_CONSTANT_MAC=01:00:5e:00:00:01", "multicast"),
        ("STATE_DIR=relative/dir", "absolute path"),
        ("NFDHCPD_STATE_DIR=", "absolute path"),
        ("STATE_DIR=/tmp/a b", "unquoted space"),
        ("STATE_DIR=$(reboot)", "only $KEY"),
        ("STATE_DIR=`reboot`", "shell expansion (`) is not allowed"),
        ("STATE_DIR=/x; reboot", "shell syntax"),
        ("STATE_DIR=/x;reboot", "shell syntax"),
        ("TTL=soon", "TTL"),
        ("NFDHCPD_NS_QUEUE=70000", "65535"),
        ("DNS_TAG=two words", "unquoted space"),
        ('DNS_TAG="two words"', "not a Ganeti tag"),
        ("STATE_DIR=\"/unterminated", "unterminated"),
        ("KEYFILE=$NOPE/key", "not set earlier"),
        ("just some words", "expected KEY=value"),
        ("SYSLOG=perhaps", "yes or no"),
    ],
)
def test_bad_values_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        config.from_text(text, "/etc/default/snf-network")
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(("text", "message"), [
    ("MAC_MASK=00:00:00:00:00:00", "MAC_MASK: an all-zero mask puts every MAC in one network: '00:00:00:00:00:00'"),
    ("TAP_CONSTANT_MAC=00:00:00:00:00:00", "TAP_CONSTANT_MAC: an all-zero MAC cannot be a tap's address"),
    ("TAP_CONSTANT_MAC=FF:FF:FF:FF:FF:FF", "TAP_CONSTANT_MAC: a multicast MAC cannot be a tap's address"),
    ("TAP_CONSTANT_MAC=cd:47:52:4e:45:54", "TAP_CONSTANT_MAC: a multicast MAC"),
])
def test_macs_that_cannot_work(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        config.from_text(text, "/etc/default/snf-network")
    assert message in str(error.value)
    assert str(error.value).startswith("/etc/default/snf-network: " + text.split("=")[0] + ": ")


@pytest.mark.parametrize("text", ["MAC_MASK=ff:00:00:00:00:00", "MAC_MASK=00:00:00:00:00:01",
                                  "TAP_CONSTANT_MAC=00:00:00:00:00:01", "TAP_CONSTANT_MAC=CE:47:52:4E:45:54"])
def test_macs_next_to_them_work(text: str) -> None:
    key, value = text.split("=")
    assert getattr(config.from_text(text), key) == value.lower()


def test_a_bad_value_is_shown_cut_and_quoted() -> None:
    with pytest.raises(ConfigError) as error:
        config.from_text('TTL="1' + "0" * 300 + ' soon"', "conf")
    text = str(error.value)
    assert text.startswith("conf: TTL: ") and text.endswith("...") and len(text) < 250


def test_load_honours_the_environment(tmp_path) -> None:
    path = tmp_path / "conf"
    path.write_text("STATE_DIR=/srv/state\n")
    assert config.load({"SNF_NETWORK_CONFIG": str(path)}).STATE_DIR == "/srv/state"
    with pytest.raises(ConfigError, match="does not exist"):
        config.load({"SNF_NETWORK_CONFIG": str(tmp_path / "missing")})


def test_shipped_default_file_loads_with_no_unknown_keys() -> None:
    from pathlib import Path

    text = (Path(__file__).parents[2] / "debian" / "snf-network.default").read_text()
    cfg = config.from_text(text)
    assert cfg.unknown_keys == ()
    assert cfg == config.Config(FZONE=cfg.FZONE, SERVER=cfg.SERVER)


@pytest.mark.parametrize(("zone", "good"), [
    ("example.org", True), ("example.org.", True), ("2.0.192.in-addr.arpa", True), ("_dns.example.org", False),
    ("-bad.example.org", False), ("bad-.example.org", False), ("two..dots", False), ("a" * 64 + ".org", False),
    ("sp ace.org", False), ("a_b.example.org", False),
])
def test_zones_follow_the_host_name_rule(zone: str, good: bool) -> None:
    # The same rule as the DNS hook's names (checks.is_host_name): a zone that
    # loads here is one the hook can write names into.
    if good:
        loaded = config.from_text(f"FZONE={zone}\nREVERSE_ZONES={zone}")
        assert zone.rstrip(".") == loaded.FZONE
        assert loaded.REVERSE_ZONES == (loaded.FZONE,)
        return
    with pytest.raises(ConfigError, match="FZONE: not a DNS zone name"):
        config.from_text(f"FZONE='{zone}'")
    if " " not in zone:  # REVERSE_ZONES is a list: a space separates two zones
        with pytest.raises(ConfigError, match=r"REVERSE_ZONES: .* is not a DNS zone name"):
            config.from_text(f"REVERSE_ZONES='2.0.192.in-addr.arpa {zone}'")


def test_record_survives_its_own_json(tmp_path) -> None:
    from snf_network import nic, record
    from snf_network.plan import Link, NftElement, Sysctl

    cfg = config.from_text(f"STATE_DIR={tmp_path}\n")
    entry = record.Record(nic.from_env({"INSTANCE": "vm1.example.org", "MAC": "aa:00:00:00:00:01", "MODE": "routed",
                                        "INTERFACE": "tap1", "TAGS": "a:b c"}),
                          ["routed"], [Link("tap1", "cc:47:52:4e:45:54"), Sysctl("net/x", "1", "0"),
                                       NftElement("inet", "ip4_ok", '"tap1" . 192.0.2.1')])
    host = Host()
    record.save(host, cfg, entry)
    import json

    assert json.loads((tmp_path / "tap1.json").read_text())["items"][2]["element"] == '"tap1" . 192.0.2.1'
    loaded = record.load(host, cfg, "tap1")
    assert loaded is not None and loaded.items == entry.items and loaded.nic == entry.nic
    (tmp_path / "tap1.json").write_text('{"version": 1, "nic": ')
    with pytest.raises(Exception, match="is damaged"):
        record.load(host, cfg, "tap1")


def test_a_damaged_record_does_not_hide_the_others(tmp_path) -> None:
    from snf_network import log, nic, record

    cfg = config.from_text(f"STATE_DIR={tmp_path}\nLOGFILE={tmp_path}/log\n")
    log.setup("test", str(tmp_path / "log"), use_syslog=False, stderr_level=99)
    entry = record.Record(nic.from_env({"INSTANCE": "vm1.example.org", "MAC": "aa:00:00:00:00:01", "MODE": "routed",
                                        "INTERFACE": "tap1"}), [], [])
    record.save(Host(), cfg, entry)
    (tmp_path / "tap2.json").write_text("{not json")
    assert [r.interface for r in record.load_all(Host(), cfg)] == ["tap1"]
    assert "tap2.json is damaged" in (tmp_path / "log").read_text()
