"""Communication NICs through a recording Host: what they get, the hosts file, the keys, dnsmasq's config.

The kernel test (tests/kernel/test_communication.py) runs the same with a real dnsmasq and DHCP clients.
"""

from __future__ import annotations

import os
import pathlib
import re

import pytest

from snf_network import config, engine, features, record
from snf_network import nic as nic_module
from snf_network.errors import ConfigError, InputError, SnfNetworkError
from snf_network.host import communication as node
from snf_network.host import nft
from snf_network.plan import Facts, HostsEntry
from snf_network.services import communication as service
from tests.unit.hosts import RecordingHost


@pytest.fixture
def cfg(tmp_path):
    return config.from_text(f"STATE_DIR={tmp_path}/state\nLOCK_FILE={tmp_path}/lock\nLOGFILE=\nSYSLOG=no\n"
                            f"COMMUNICATION_DIR={tmp_path}/communication\nFIREWALL_PROFILES=\n")


@pytest.fixture
def host():
    host = RecordingHost()
    for tap in ("gnt.com.0", "gnt.com.1"):
        host.add_link(tap)
        host.sysctls[f"net/ipv4/conf/{tap}/arp_ignore"] = "0"
    return host


def communication(tap: str = "gnt.com.0", ip: str = "169.254.0.2", mac: str = "52:54:00:00:00:02", **extra: str):
    """Ganeti 3.2's environment for the communication NIC (reference section 5)."""
    env = {"INSTANCE": "vm1.example.org", "INTERFACE": tap, "MAC": mac, "MODE": "routed", "LINK": "communication_rt",
           "IP": ip, "INTERFACE_NAME": "ganeti:communication:vm1.example.org", "NETWORK_SUBNET": "169.254.0.0/16",
           "NETWORK_SUBNET6": "fe80::/10", "NETWORK_MAC_PREFIX": "52:54:00", "NETWORK_NAME": "gnt-com", **extra}
    return nic_module.from_env({key: value for key, value in env.items() if value})


def hosts(cfg) -> list[str]:
    with open(node.hosts_path(cfg)) as handle:
        return sorted(line.strip() for line in handle if not line.startswith("#"))


def test_a_communication_nic_gets_that_feature_alone(cfg) -> None:
    # Whatever tags its network carries: the others' features never see it.
    nic = communication(NETWORK_TAGS="ip-less-routed nfdhcpd dns")
    plan = features.plan(nic, cfg, Facts())
    assert plan.features == ["communication"]
    described = [item.describe() for item in plan.items]
    assert "address 169.254.169.254/32 on gnt.com.0" in described
    assert "route -4 169.254.0.2/32 dev gnt.com.0 table main" in described
    assert "dnsmasq host 52:54:00:00:00:02,169.254.0.2 (for gnt.com.0)" in described
    assert 'nft inet snf @comm_chaddr { "gnt.com.0" . 0x525400000002 }' in described
    assert not [line for line in described if line.startswith("rule") or "communication_rt" in line]


def test_by_name_alone_too(cfg) -> None:
    nic = communication(tap="tap5")
    assert nic.is_communication and features.plan(nic, cfg, Facts()).features == ["communication"]


@pytest.mark.parametrize(("ip", "message"), [("", "IP: not set"), ("169.254.169.254", "link-local and not"),
                                              ("198.51.100.7", "link-local"), ("169.254.0.0", "link-local and not"),
                                              ("169.254.255.255", "link-local and not")])
def test_addresses_it_cannot_have(cfg, ip: str, message: str) -> None:
    subnet = "" if ip.startswith("198.") else "169.254.0.0/16"
    with pytest.raises(InputError, match=message):
        features.plan(communication(ip=ip, NETWORK_SUBNET=subnet), cfg, Facts())


def test_up_and_down_keep_the_hosts_file_to_the_records(host, cfg) -> None:
    engine.ifup(host, communication(), cfg)
    engine.ifup(host, communication("gnt.com.1", "169.254.0.3", "52:54:00:00:00:03"), cfg)
    assert hosts(cfg) == ["52:54:00:00:00:02,169.254.0.2", "52:54:00:00:00:03,169.254.0.3"]
    assert host.addresses == {("169.254.169.254/32", "gnt.com.0"), ("169.254.169.254/32", "gnt.com.1")}
    assert host.sysctls["net/ipv4/conf/gnt.com.0/arp_ignore"] == "1"
    assert not host.tx_checksum("gnt.com.0")
    # A reused tap name: the old line goes, the new one comes.
    engine.ifup(host, communication(mac="52:54:00:00:00:09", ip="169.254.0.9"), cfg)
    assert hosts(cfg) == ["52:54:00:00:00:03,169.254.0.3", "52:54:00:00:00:09,169.254.0.9"]
    assert engine.ifdown(host, cfg, "gnt.com.0")
    assert hosts(cfg) == ["52:54:00:00:00:03,169.254.0.3"]
    assert host.addresses == {("169.254.169.254/32", "gnt.com.1")}
    assert host.sysctls["net/ipv4/conf/gnt.com.0/arp_ignore"] == "0"
    assert host.tx_checksum("gnt.com.0")  # as it was before
    assert engine.ifdown(host, cfg, "gnt.com.1")
    assert hosts(cfg) == [] and record.load_all(host, cfg) == []


def test_a_failed_up_leaves_no_hosts_entry(host, cfg) -> None:
    engine.ifup(host, communication("gnt.com.1", "169.254.0.3", "52:54:00:00:00:03"), cfg)
    host.fail_when = lambda argv, stdin: argv[:3] == ["ip", "address", "add"]
    with pytest.raises(SnfNetworkError, match=re.escape("ip address replace 169.254.169.254/32 dev gnt.com.0: inj")):
        engine.ifup(host, communication(), cfg)
    assert hosts(cfg) == ["52:54:00:00:00:03,169.254.0.3"]
    assert record.load(host, cfg, "gnt.com.0") is None


def test_verify_sees_a_missing_hosts_line(host, cfg) -> None:
    engine.ifup(host, communication(), cfg)
    with open(node.hosts_path(cfg), "w") as handle:
        handle.write(node.HEADER)
    report = engine.verify(host, cfg)
    assert "missing dnsmasq host 52:54:00:00:00:02,169.254.0.2 in " + node.hosts_path(cfg) in report["gnt.com.0"]


def test_one_line_per_mac_the_last_recorded_wins() -> None:
    entries = [HostsEntry("gnt.com.0", "52:54:00:00:00:02", "169.254.0.2", "/x"),
               HostsEntry("gnt.com.3", "52:54:00:00:00:02", "169.254.0.7", "/x")]
    assert node.render(entries) == node.HEADER + "# gnt.com.3\n52:54:00:00:00:02,169.254.0.7\n"
    assert node.parse(node.render(entries)) == [HostsEntry("gnt.com.3", "52:54:00:00:00:02", "169.254.0.7", "")]


def test_a_nic_edits_the_hosts_file_serve_rebuilds_it_from_the_records(host, cfg) -> None:
    engine.ifup(host, communication(), cfg)
    with open(node.hosts_path(cfg), "a") as handle:
        handle.write("52:54:00:99:99:99,169.254.9.9\n")
    engine.ifup(host, communication("gnt.com.1", "169.254.0.3", "52:54:00:00:00:03"), cfg)
    assert "52:54:00:99:99:99,169.254.9.9" in hosts(cfg)  # kept: not the NIC's to judge
    assert service.rebuild_hosts(host, cfg)
    assert hosts(cfg) == ["52:54:00:00:00:02,169.254.0.2", "52:54:00:00:00:03,169.254.0.3"]


def test_no_signal_for_a_pid_that_is_not_dnsmasq(host, cfg) -> None:
    os.makedirs(cfg.COMMUNICATION_DIR)
    host.write(node.pid_path(cfg), f"{os.getpid()}\n")  # this test: python, not dnsmasq
    assert node.running_pid(host, cfg) == 0 and not node.reload_dnsmasq(host, cfg)
    host.write(node.pid_path(cfg), "12; kill\n")
    assert node.running_pid(host, cfg) == 0


def test_the_keys() -> None:
    parsed = config.from_text("COMMUNICATION_TCP_PORTS='80 8080,80'\nCOMMUNICATION_UDP_PORTS=53\n")
    assert (parsed.COMMUNICATION_TCP_PORTS, parsed.COMMUNICATION_UDP_PORTS) == ((80, 8080), (53,))
    assert config.from_text("COMMUNICATION_TCP_PORTS=").COMMUNICATION_TCP_PORTS == ()
    assert config.from_text("").COMMUNICATION_DIR == "/run/snf-network/communication"
    for bad in ("COMMUNICATION_TCP_PORTS=0", "COMMUNICATION_TCP_PORTS=http", "COMMUNICATION_UDP_PORTS=65536",
                "COMMUNICATION_DIR=run/x"):
        with pytest.raises(ConfigError, match=bad.split("=")[0]):
            config.from_text(bad)


def test_the_ruleset_lists_the_operators_ports() -> None:
    text = nft.ruleset(config.from_text("COMMUNICATION_TCP_PORTS='80 8775'\nCOMMUNICATION_UDP_PORTS=53\n"), ())
    assert "ip daddr 169.254.169.254 tcp dport { 80, 8775 } accept" in text
    assert "ip daddr 169.254.169.254 udp dport { 53 } accept" in text
    assert "169.254.169.254 udp dport" not in nft.ruleset(config.from_text("COMMUNICATION_TCP_PORTS=80\n"), ())


def test_dnsmasq_is_told_to_keep_to_the_communication_taps(cfg) -> None:
    lines = service.dnsmasq_config(cfg).splitlines()
    for line in ("bind-dynamic", "interface=gnt.com.*", "except-interface=eth*", "except-interface=lo", "port=0",
                 "dhcp-range=169.254.0.0,static,255.255.0.0,2m", f"dhcp-hostsfile={cfg.COMMUNICATION_DIR}/hosts",
                 "leasefile-ro", "dhcp-option=option:router"):
        assert line in lines
    assert not [line for line in lines if line.startswith("interface=") and line != "interface=gnt.com.*"]


def test_serve_exits_with_an_error_when_dnsmasq_dies(cfg, tmp_path) -> None:
    """systemd restarts the unit then (Restart=on-failure); its log lines are passed on first."""
    import logging

    from snf_network.services import daemon

    fake = tmp_path / "dnsmasq"
    fake.write_text("#!/bin/sh\necho 'dnsmasq[1]: failed to create listening socket' >&2\nexit 3\n")
    fake.chmod(0o755)
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logger = daemon.setup_logging("snf-network-communication-test")
    logger.addHandler(Keep())
    status = daemon.run(service.CommunicationService(cfg, logger, dnsmasq=str(fake)), logger)
    assert status == 1
    assert "failed to create listening socket" in records
    assert "stopped by an error: dnsmasq exited with status 3" in records
    assert not os.path.exists(node.pid_path(cfg))
    with open(service.config_path(cfg)) as handle:
        assert "interface=gnt.com.*\n" in handle.read()


def test_directories_are_made_0755_whatever_the_umask(tmp_path: pathlib.Path) -> None:
    from snf_network.host import files

    previous = os.umask(0o077)  # Ganeti's noded's
    try:
        files.atomic_replace(str(tmp_path / "a" / "b" / "hosts"), "x\n")
    finally:
        os.umask(previous)
    assert [(tmp_path / name).stat().st_mode & 0o777 for name in ("a", "a/b", "a/b/hosts")] == [0o755, 0o755, 0o644]
    (tmp_path / "a").chmod(0o700)
    files.atomic_replace(str(tmp_path / "a" / "b" / "hosts"), "y\n")
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o700  # one already there keeps its mode


def test_unreadable_by_nobody_and_dnsmasq_errors() -> None:
    import logging
    import shutil
    import tempfile

    log_level = service.log_level
    tmp_path = pathlib.Path(tempfile.mkdtemp())  # not pytest's: its directories are their owner's alone
    try:
        _check_unreadable(tmp_path)
    finally:
        shutil.rmtree(tmp_path)
    assert log_level("cannot read /run/snf-network/communication/hosts: Permission denied") == logging.ERROR
    assert log_level("started, version 2.90 DNS disabled") == logging.INFO


def _check_unreadable(tmp_path: pathlib.Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("")
    tmp_path.chmod(0o755)
    hosts.chmod(0o600)
    assert "not readable by others (mode 600)" in node.unreadable_by_nobody(str(hosts))
    hosts.chmod(0o644)
    tmp_path.chmod(0o700)
    assert f"{tmp_path} is not searchable by others (mode 700)" in node.unreadable_by_nobody(str(hosts))
    tmp_path.chmod(0o755)
    assert node.unreadable_by_nobody(str(hosts)) == ""
