"""snf-dhcpd's configuration keys, and its status file as snf-network status reads it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from snf_network import config
from snf_network.dhcpd import status
from snf_network.dhcpd.protocol import Settings
from snf_network.errors import ConfigError


def test_defaults_and_values() -> None:
    cfg = config.from_text("")
    assert cfg.DHCP_SERVER == "snf-dhcpd" and cfg.RA_PERIOD == 300 and cfg.DHCP_NAMESERVERS == ()
    cfg = config.from_text("DHCP_NAMESERVERS='192.0.2.53, 192.0.2.54'\nDHCP_NAMESERVERS6=2001:DB8::53\n"
                           "DHCP_DOMAINS6='a.example b.example.'\nDHCP_DOMAIN=example.org.\nDHCPD_IPV6=no\n"
                           "DHCP_SERVER=nfdhcpd\nDHCP_LEASE_TIME=3600\nDHCP_RENEWAL_TIME=1800\n")
    assert cfg.DHCP_NAMESERVERS == ("192.0.2.53", "192.0.2.54") and cfg.DHCP_NAMESERVERS6 == ("2001:db8::53",)
    assert cfg.DHCP_DOMAINS6 == ("a.example", "b.example") and cfg.DHCP_DOMAIN == "example.org"
    assert cfg.DHCPD_IPV6 is False and cfg.DHCP_SERVER == "nfdhcpd"
    settings = Settings.from_config(cfg)
    assert settings.lease_time == 3600 and settings.renewal_time == 1800 and not settings.ipv6


@pytest.mark.parametrize("line, error", [
    ("DHCP_SERVER=dnsmasq", "expected snf-dhcpd or nfdhcpd"),
    ("DHCP_NAMESERVERS=2001:db8::1", "not an IPv4 address"),
    ("DHCP_NAMESERVERS6=192.0.2.1", "not an IPv6 address"),
    ("DHCP_NAMESERVERS=bogus", "not an address"),
    ("DHCP_SERVER_IP='192.0.2.1 192.0.2.2'", "one address only"),
    ("DHCP_DOMAIN='a.example b.example'", "one domain only"),
    ("DHCP_DOMAINS6=-bad-", "not a domain name"),
    ("RA_PERIOD=1", "at most every 4 seconds"),
    ("DHCP_LEASE_TIME=0", "not a positive number"),
    ("DHCPD_IPV4=maybe", "expected yes or no"),
    ("DHCPD_STATUS_FILE=relative", "absolute path"),
])
def test_bad_values_are_one_line_errors(line: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        config.from_text(line + "\n")


def test_a_renewal_not_shorter_than_the_lease_is_refused() -> None:
    with pytest.raises(ValueError, match="DHCP_RENEWAL_TIME must be shorter"):
        Settings.from_config(config.from_text("DHCP_LEASE_TIME=600\nDHCP_RENEWAL_TIME=600\n"))


def test_status_file_of_a_live_and_of_a_dead_daemon(tmp_path: Path) -> None:
    path = str(tmp_path / "status")
    assert status.describe(status.read(path), "tap1") == "snf-dhcpd is not running"
    status.write(path, {"tap1": {"served": True, "answered": 3, "ignored": 1},
                        "tap2": {"served": False, "reason": "its interface does not exist"}})
    rows = status.read(path)
    assert status.describe(rows, "tap1") == "served by snf-dhcpd (3 answered, 1 ignored)"
    assert status.describe(rows, "tap2") == "not served: its interface does not exist"
    assert status.describe(rows, "tap3") == "not served: snf-dhcpd has no binding for it"
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    # A pid that is not running: the daemon died without removing its file.
    text = Path(path).read_text().replace(f'"pid": {os.getpid()}', '"pid": 999999999')
    Path(path).write_text(text)
    assert status.read(path) is None
    Path(path).write_text("{broken")
    assert status.read(path) is None


def test_status_file_never_writes_through_a_planted_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    path = tmp_path / "status"
    path.symlink_to(victim)  # planted where the status file goes: replaced, never written through
    status.write(str(path), {"tap1": {"served": True}})
    assert victim.read_text() == "precious\n"
    assert not path.is_symlink() and status.read(str(path)) == {"tap1": {"served": True}}


def test_the_status_file_must_be_one_of_ours_and_not_another_live_daemons(tmp_path: Path) -> None:
    path = tmp_path / "status"
    status.claim(str(path))  # none yet
    path.write_text("root:x:0:0:root:/root:/bin/bash\n")  # DHCPD_STATUS_FILE=/etc/passwd, say
    with pytest.raises(ValueError, match="is not snf-dhcpd's status file"):
        status.claim(str(path))
    assert path.read_text().startswith("root:")
    path.unlink()
    path.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="is not snf-dhcpd's status file"):
        status.claim(str(path))
    path.unlink()
    path.write_text(json.dumps({"pid": 1, "interfaces": {}}))  # pid 1 is always alive
    with pytest.raises(ValueError, match=r"another snf-dhcpd \(pid 1\) is running"):
        status.claim(str(path))
    child = subprocess.Popen(["true"])
    child.wait()
    path.write_text(json.dumps({"pid": child.pid, "interfaces": {}}))  # a daemon that died
    status.claim(str(path))
