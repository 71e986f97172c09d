"""``snf-network dns show|sync`` against a real named."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from snf_network import config, nic, record
from snf_network.entry.cli import main
from snf_network.host import Host
from tests.dns.hooks import hook_env, nic_env

pytestmark = pytest.mark.dns

NIC0 = nic_env(0, "aa:00:00:11:22:33", "192.0.2.10", "192.0.2.0/24")
NIC1 = nic_env(1, "aa:00:00:44:55:66", "198.51.100.20", "198.51.100.0/24", "2001:db8:0:1::/64")
CREATED = {
    ("web1.example.org.", "A", "192.0.2.10"),
    ("web1.example.org.", "A", "198.51.100.20"),
    ("web1.example.org.", "AAAA", "2001:db8:0:1:a800:ff:fe44:5566"),
    ("10.2.0.192.in-addr.arpa.", "PTR", "web1.example.org."),
    ("20.100.51.198.in-addr.arpa.", "PTR", "web1.example.org."),
    ("6.6.5.5.4.4.e.f.f.f.0.0.0.0.8.a.1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", "PTR",
     "web1.example.org."),
}


class Result:
    def __init__(self, exit_code: int, output: str) -> None:
        self.exit_code, self.output = exit_code, output


def cli(hook, *args, **env):
    """``snf-network dns ARGS`` through the program's own main: its one-line errors and exit statuses."""
    with CliRunner().isolation(env={"SNF_NETWORK_CONFIG": str(hook.write_config()), **env}) as streams:
        status = main(["snf-network", "dns", *args])
        output = b"".join(stream.getvalue() for stream in streams if stream is not None)
    return Result(status, output.decode())


def save_records(hook, *envs):
    cfg = config.load({"SNF_NETWORK_CONFIG": str(hook.write_config())})
    for index, nic_vars in enumerate(envs):
        plain = {key.split("_", 3)[3]: value for key, value in nic_vars.items()}
        plain.update(INSTANCE="web1", INTERFACE=f"tap{index}", INTERFACE_INDEX=str(index))
        record.save(Host(), cfg, record.Record(nic.from_env(plain), [], []))


def test_show_prints_what_the_server_holds(named, hook):
    hook.run(hook_env("OP_INSTANCE_CREATE", "web1", NIC0, NIC1))
    named.update("example.org", "web1.example.org.", "TXT", '"owner=ops"')
    named.update("2.0.192.in-addr.arpa", "10.2.0.192.in-addr.arpa.", "PTR")  # drift
    result = cli(hook, "show", "web1")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "web1.example.org. 300 IN A 192.0.2.10" in lines
    assert "web1.example.org. 300 IN AAAA 2001:db8:0:1:a800:ff:fe44:5566" in lines
    assert 'web1.example.org. 300 IN TXT "owner=ops"' in lines
    assert "20.100.51.198.in-addr.arpa. 300 IN PTR web1.example.org." in lines
    assert "; no PTR at 10.2.0.192.in-addr.arpa." in lines


def test_sync_from_the_nic_records_repairs_drift(named, hook):
    hook.run(hook_env("OP_INSTANCE_CREATE", "web1", NIC0, NIC1))
    named.update("example.org", "web1.example.org.", "AAAA")
    named.update("2.0.192.in-addr.arpa", "10.2.0.192.in-addr.arpa.", "PTR")
    named.update("example.org", "web1.example.org.", "A", "192.0.2.66")  # stale, and its PTR
    named.update("2.0.192.in-addr.arpa", "66.2.0.192.in-addr.arpa.", "PTR", "web1.example.org.")
    save_records(hook, NIC0, NIC1)
    result = cli(hook, "sync", "web1")
    assert result.exit_code == 0, result.output
    assert "update add web1.example.org. 300 A 192.0.2.10" in result.output
    assert named.records() == CREATED


def test_sync_dry_run_sends_nothing(named, hook):
    save_records(hook, NIC0)
    result = cli(hook, "sync", "--dry-run", "web1")
    assert result.exit_code == 0, result.output
    assert "zone example.org." in result.output
    assert named.records() == set()


def test_sync_from_a_hook_environment(named, hook):
    env = hook_env("OP_INSTANCE_CREATE", "web1", NIC0, NIC1)
    result = cli(hook, "sync", "web1", **env)
    assert result.exit_code == 0, result.output
    assert named.records() == CREATED


def test_sync_without_nics_refuses(named, hook):
    hook.run(hook_env("OP_INSTANCE_CREATE", "web1", NIC0))
    result = cli(hook, "sync", "web1")
    assert result.exit_code == 2
    assert "no NIC records for web1" in result.output
    assert named.records() != set()


def test_sync_absent_removes_everything_of_ours(named, hook):
    hook.run(hook_env("OP_INSTANCE_CREATE", "web1", NIC0, NIC1))
    named.update("example.org", "web1.example.org.", "TXT", '"owner=ops"')
    result = cli(hook, "sync", "--absent", "web1")
    assert result.exit_code == 0, result.output
    assert named.records() == {("web1.example.org.", "TXT", '"owner=ops"')}


def test_sync_reports_a_dead_server(named, hook):
    save_records(hook, NIC0)
    named.stop()
    result = cli(hook, "sync", "web1")
    assert result.exit_code == 1
    assert "some updates failed" in result.output


def test_show_rejects_a_bad_name(named, hook):
    result = cli(hook, "show", "web 1")
    assert result.exit_code == 2
    assert "not a valid host name" in result.output


def test_show_when_dns_is_off(named, hook):
    hook.settings["SERVER"] = ""
    result = cli(hook, "show", "web1")
    assert result.exit_code == 2
    assert "dynamic DNS is off" in result.output
