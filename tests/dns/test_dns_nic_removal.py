"""snf_network.dns.remove_nic_records: one NIC's records go (kvm-ifdown-custom <tap> false)."""

from __future__ import annotations

import pytest

from snf_network import config, log, nic
from snf_network.dns import remove_nic_records
from tests.dns.hooks import hook_env, nic_env

pytestmark = pytest.mark.dns

NIC0 = nic_env(0, "aa:00:00:11:22:33", "192.0.2.10", "192.0.2.0/24")
NIC1 = nic_env(1, "aa:00:00:44:55:66", "198.51.100.20", "198.51.100.0/24", "2001:db8:0:1::/64")


@pytest.fixture(autouse=True)
def logging_to_the_hook_log(hook, monkeypatch):
    # In process, as kvm-ifdown-custom would call it; the log module's state is per process.
    monkeypatch.setitem(log._state, "logfile", str(hook.logfile))
    monkeypatch.setitem(log._state, "syslog", False)
    monkeypatch.setitem(log._state, "stderr_level", log.ERROR + 1)


def tap_nic(env, tap):
    plain = {key.split("_", 3)[3]: value for key, value in env.items()}
    return nic.from_env({**plain, "INSTANCE": "web1", "INTERFACE": tap})


def test_one_nic_goes_the_others_stay(named, hook):
    hook.run(hook_env("OP_INSTANCE_CREATE", "web1", NIC0, NIC1))
    named.update("example.org", "web1.example.org.", "TXT", '"owner=ops"')
    cfg = config.load({"SNF_NETWORK_CONFIG": str(hook.write_config())})
    remove_nic_records(cfg, tap_nic(NIC1, "tap1"))
    assert named.records() == {
        ("web1.example.org.", "A", "192.0.2.10"),
        ("10.2.0.192.in-addr.arpa.", "PTR", "web1.example.org."),
        ("web1.example.org.", "TXT", '"owner=ops"'),
    }
    assert "DNS zone example.org at" in hook.log()
    assert "delete web1.example.org. A 198.51.100.20; delete web1.example.org. AAAA" in hook.log()


def test_a_dead_server_is_only_logged(named, hook):
    cfg = config.load({"SNF_NETWORK_CONFIG": str(hook.write_config())})
    named.stop()
    remove_nic_records(cfg, tap_nic(NIC0, "tap0"))  # must not raise
    assert "cannot connect to server" in hook.log()
    assert "not done: delete web1.example.org. A 192.0.2.10" in hook.log()


def test_nics_without_the_dns_tag_cost_nothing(named, hook):
    hook.run(hook_env("OP_INSTANCE_CREATE", "web1", NIC0))
    cfg = config.load({"SNF_NETWORK_CONFIG": str(hook.write_config())})
    untagged = {**NIC0, "GANETI_INSTANCE_NIC0_NETWORK_TAGS": "nfdhcpd"}
    remove_nic_records(cfg, tap_nic(untagged, "tap0"))
    assert named.records() == {("web1.example.org.", "A", "192.0.2.10"),
                               ("10.2.0.192.in-addr.arpa.", "PTR", "web1.example.org.")}
