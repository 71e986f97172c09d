"""snf-network-dnshook, installed, against a real named: create, modify, rename, remove."""

from __future__ import annotations

import ipaddress
import subprocess

import pytest

from tests.dns.hooks import PRIMARY, hook_env, nic_env
from tests.dns.named_server import REVERSE4_ZONE16, REVERSE6_ZONE32

pytestmark = pytest.mark.dns

MAC0 = "aa:00:00:11:22:33"
MAC1 = "aa:00:00:44:55:66"
NIC0 = nic_env(0, MAC0, "192.0.2.10", "192.0.2.0/24")  # IPv4 only
NIC1 = nic_env(1, MAC1, "198.51.100.20", "198.51.100.0/24", "2001:db8:0:1::/64",
               mode="bridged", link="br0")  # dual stack
V6 = "2001:db8:0:1:a800:ff:fe44:5566"  # EUI-64 of MAC1 (U/L bit flipped)
V6_PTR = "6.6.5.5.4.4.e.f.f.f.0.0.0.0.8.a.1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
TXT = ("web1.example.org.", "TXT", '"owner=ops"')


def records(name, v4=(), v6=()):
    """What the server should hold for instance ``name`` with these addresses."""
    fqdn = f"{name}.example.org."
    wanted = {(fqdn, "A", a) for a in v4} | {(fqdn, "AAAA", a) for a in v6}
    wanted |= {(ipaddress.ip_address(a).reverse_pointer + ".", "PTR", fqdn) for a in (*v4, *v6)}
    return wanted


def ok(hook, env):
    done = hook.run(env)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr + hook.log()
    return done


def test_lifecycle_create_modify_rename_remove(named, hook):
    named.update("example.org", *TXT)
    named.update("example.org", "web2.example.org.", "TXT", '"reserved"')

    ok(hook, hook_env("OP_INSTANCE_CREATE", "web1", NIC0, NIC1))
    assert named.records() == {TXT, ("web2.example.org.", "TXT", '"reserved"')} | records(
        "web1", ["192.0.2.10", "198.51.100.20"], [V6])
    assert (V6_PTR, "PTR", "web1.example.org.") in named.records()

    # Modify: NIC 0 removed, the dual-stack NIC (now index 0) gets another IPv4 address.
    changed = nic_env(0, MAC1, "198.51.100.21", "198.51.100.0/24", "2001:db8:0:1::/64", mode="bridged",
                      link="br0")
    ok(hook, hook_env("OP_INSTANCE_SET_PARAMS", "web1", changed))
    assert named.records() == {TXT, ("web2.example.org.", "TXT", '"reserved"')} | records(
        "web1", ["198.51.100.21"], [V6])

    # Rename: every record of the old name goes (the administrator's TXT is not ours), all NICs move.
    second = nic_env(1, "aa:00:00:77:88:99", "192.0.2.11", "192.0.2.0/24")
    ok(hook, hook_env("OP_INSTANCE_RENAME", "web1", changed, second, GANETI_INSTANCE_NEW_NAME="web2"))
    assert named.records() == {TXT, ("web2.example.org.", "TXT", '"reserved"')} | records(
        "web2", ["198.51.100.21", "192.0.2.11"], [V6])

    ok(hook, hook_env("OP_INSTANCE_REMOVE", "web2", changed, second))
    assert named.records() == {TXT, ("web2.example.org.", "TXT", '"reserved"')}
    log = hook.log()
    assert "instance=web1: DNS create" in log
    assert "instance=web2: DNS remove" in log


def test_modify_drops_the_dual_stack_nic_and_adds_one(named, hook):
    ok(hook, hook_env("OP_INSTANCE_CREATE", "web1", NIC0, NIC1))
    added = nic_env(1, "aa:00:00:aa:bb:cc", "203.0.113.7", "203.0.113.0/24", tags="nfdhcpd")  # not DNS
    ok(hook, hook_env("OP_INSTANCE_SET_PARAMS", "web1", NIC0, added))
    assert named.records() == records("web1", ["192.0.2.10"])


def test_modify_cleans_ptrs_of_addresses_only_the_server_knew(named, hook):
    # A record left over from an earlier life of the name: its PTR must go too.
    named.update("example.org", "web1.example.org.", "A", "192.0.2.99")
    named.update("2.0.192.in-addr.arpa", "99.2.0.192.in-addr.arpa.", "PTR", "web1.example.org.")
    ok(hook, hook_env("OP_INSTANCE_SET_PARAMS", "web1", NIC0))
    assert named.records() == records("web1", ["192.0.2.10"])


def test_create_twice_changes_nothing(named, hook):
    env = hook_env("OP_INSTANCE_CREATE", "web1", NIC0, NIC1)
    ok(hook, env)
    first = named.records()
    ok(hook, env)
    assert named.records() == first == records("web1", ["192.0.2.10", "198.51.100.20"], [V6])


def test_ptr_of_another_instance_is_not_deleted(named, hook):
    ok(hook, hook_env("OP_INSTANCE_CREATE", "web1", NIC0))
    # The address moved to web9 (its own hook replaced the PTR); removing web1 must leave it.
    ok(hook, hook_env("OP_INSTANCE_CREATE", "web9", NIC0))
    ok(hook, hook_env("OP_INSTANCE_REMOVE", "web1", NIC0))
    assert named.records() == records("web9", ["192.0.2.10"])


def test_only_the_primary_node_acts(named, hook):
    done = ok(hook, hook_env("OP_INSTANCE_CREATE", "web1", NIC0, NIC1, primary="node2.example.org"))
    assert named.records() == set()
    assert done.stderr == ""


def test_primary_compared_without_case_or_final_dot(named, hook):
    ok(hook, hook_env("OP_INSTANCE_CREATE", "web1", NIC0, primary=PRIMARY.upper() + "."))
    assert named.records() == records("web1", ["192.0.2.10"])


def test_fqdn_instance_name_is_not_doubled(named, hook):
    ok(hook, hook_env("OP_INSTANCE_CREATE", "web1.example.org", NIC0))
    assert named.records() == records("web1", ["192.0.2.10"])


def test_ttl_comes_from_the_config(named, hook):
    hook.settings["TTL"] = "120"
    ok(hook, hook_env("OP_INSTANCE_CREATE", "web1", NIC0))
    answer = subprocess.run(["dig", "@127.0.0.1", "-p", str(named.port), "web1.example.org", "A",
                             "+noall", "+answer"], capture_output=True, text=True, check=True).stdout
    assert answer.split()[1] == "120", answer


def test_reverse_zones_from_the_config(named, hook):
    hook.settings["REVERSE_ZONES"] = f"{REVERSE4_ZONE16}, {REVERSE6_ZONE32}"
    nic = nic_env(0, MAC1, "203.0.113.5", "203.0.113.0/24", "2001:db8:0:2::/64")
    ok(hook, hook_env("OP_INSTANCE_CREATE", "web1", nic))
    assert named.records() == records("web1", ["203.0.113.5"], ["2001:db8:0:2:a800:ff:fe44:5566"])
    assert "zone 0.203.in-addr.arpa at" in hook.log()
    assert f"zone {REVERSE6_ZONE32} at" in hook.log()


def test_a_zone_the_server_does_not_serve_is_logged_and_the_rest_done(named, hook):
    nic = nic_env(0, MAC0, "203.0.113.5", "203.0.113.0/24")  # 113.0.203.in-addr.arpa is not served
    ok(hook, hook_env("OP_INSTANCE_CREATE", "web1", nic, NIC1))
    assert named.records() == records("web1", ["198.51.100.20"], [V6]) | {
        ("web1.example.org.", "A", "203.0.113.5")}
    log = hook.log()
    assert "update of zone 113.0.203.in-addr.arpa" in log
    assert "NOTAUTH" in log and "REVERSE_ZONES" in log
    assert "not done: replace 5.113.0.203.in-addr.arpa. PTR web1.example.org." in log


def test_wrong_tsig_key_is_an_authentication_failure_and_changes_nothing(named, hook, tmp_path):
    ok(hook, hook_env("OP_INSTANCE_CREATE", "web1", NIC0, NIC1))
    before = named.records()
    wrong = tmp_path / "wrong.key"
    wrong.write_text(subprocess.run(["tsig-keygen", "-a", "hmac-sha256", "ddns"], capture_output=True,
                                    text=True, check=True).stdout)
    hook.settings["KEYFILE"] = str(wrong)
    ok(hook, hook_env("OP_INSTANCE_REMOVE", "web1", NIC0, NIC1))
    assert named.records() == before
    log = hook.log()
    assert "authentication failure with TSIG key ddns" in log
    assert "rejected the signature" in log
    assert f"127.0.0.1#{named.port}" in log


def test_unknown_tsig_key_name(named, hook, tmp_path):
    other = tmp_path / "other.key"
    other.write_text(subprocess.run(["tsig-keygen", "-a", "hmac-sha512", "other"], capture_output=True,
                                    text=True, check=True).stdout)
    hook.settings["KEYFILE"] = str(other)
    ok(hook, hook_env("OP_INSTANCE_CREATE", "web1", NIC0))
    assert named.records() == set()
    assert "does not know the key" in hook.log()


def test_stopped_server_exits_quickly_and_logs_why(named, hook):
    named.stop()
    ok(hook, hook_env("OP_INSTANCE_CREATE", "web1", NIC0, NIC1))
    assert hook.seconds < 10
    log = hook.log()
    assert f"cannot connect to server 127.0.0.1#{named.port}" in log
    assert "not done: replace web1.example.org. A 192.0.2.10 198.51.100.20" in log
    assert "instance=web1" in log


def test_blackholed_server_costs_one_timeout(hook, listener):
    hook.settings.update(SERVER=f"127.0.0.1:{listener.port}", DNS_TIMEOUT="2")
    ok(hook, hook_env("OP_INSTANCE_CREATE", "web1", NIC0, NIC1))
    assert 2 <= hook.seconds < 10
    assert f"server 127.0.0.1#{listener.port} did not answer within 2 s" in hook.log()
    assert listener.connections == 1


def test_blackholed_server_default_timeout_within_ten_seconds(hook, listener):
    hook.settings.update(SERVER=f"127.0.0.1:{listener.port}")
    ok(hook, hook_env("OP_INSTANCE_SET_PARAMS", "web1", NIC0, NIC1))
    assert hook.seconds < 10
    assert "did not answer within 3 s" in hook.log()


def test_deadline_bounds_the_whole_hook(hook, listener):
    hook.settings.update(SERVER=f"127.0.0.1:{listener.port}", DNS_TIMEOUT="60", DNS_DEADLINE="1.5")
    ok(hook, hook_env("OP_INSTANCE_CREATE", "web1", NIC0))
    assert hook.seconds < 3
    assert "did not answer within" in hook.log()


def test_server_given_by_host_name(named, hook):
    # localhost may resolve to ::1 first, where named does not listen: the next address is tried.
    hook.settings["SERVER"] = f"localhost:{named.port}"
    ok(hook, hook_env("OP_INSTANCE_CREATE", "web1", NIC0))
    assert named.records() == records("web1", ["192.0.2.10"])
    assert f"zone example.org at localhost#{named.port}" in hook.log()
