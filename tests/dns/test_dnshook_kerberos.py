"""AUTHENTICATION_METHOD=kerberos: a ticket from the keytab, then ``nsupdate -g``.

No KDC here: fake k5start/klist record how they were called, and a fake
nsupdate checks it got ``-g`` and the ticket cache, then hands its input to the
real nsupdate with the test's TSIG key, so the update script we render really
reaches named.
"""

from __future__ import annotations

import pytest

from tests.dns.hooks import PATH, hook_env, nic_env

pytestmark = pytest.mark.dns

NIC = nic_env(0, "aa:00:00:44:55:66", "198.51.100.20", "198.51.100.0/24", "2001:db8:0:1::/64")


def fake(directory, name, body):
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


@pytest.fixture
def kerberos(tmp_path, named, hook):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    ticket = hook.directory / "krb5.tkt"
    fake(bin_dir, "klist", f'echo "klist $*" >> {calls}\n[ -e {ticket} ]\n')
    fake(bin_dir, "k5start", f'echo "k5start $*" >> {calls}\ntouch {ticket}\n')
    fake(bin_dir, "nsupdate",
         f'echo "nsupdate $* KRB5CCNAME=$KRB5CCNAME" >> {calls}\n'
         f'[ "$1" = -g ] || exit 9\nshift\nexec /usr/bin/nsupdate -k {named.keyfile} "$@"\n')
    hook.settings.update(AUTHENTICATION_METHOD="kerberos", KEYFILE="",
                         KERBEROS_PRINCIPAL="dns-updater/node1.example.org@EXAMPLE.ORG",
                         KERBEROS_KEYTAB=str(tmp_path / "krb5.keytab"))
    return hook, f"{bin_dir}:{PATH}", calls, ticket


def test_kerberos_updates_through_nsupdate_g(named, kerberos, tmp_path):
    hook, path, calls, ticket = kerberos
    done = hook.run(hook_env("OP_INSTANCE_CREATE", "web1", NIC), path=path)
    assert done.returncode == 0
    assert named.records() == {
        ("web1.example.org.", "A", "198.51.100.20"),
        ("web1.example.org.", "AAAA", "2001:db8:0:1:a800:ff:fe44:5566"),
        ("20.100.51.198.in-addr.arpa.", "PTR", "web1.example.org."),
        ("6.6.5.5.4.4.e.f.f.f.0.0.0.0.8.a.1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", "PTR",
         "web1.example.org."),
    }, hook.log()
    lines = calls.read_text().splitlines()
    k5start = [line for line in lines if line.startswith("k5start")]
    assert k5start == [f"k5start -q -H 1 -l 1h -k {ticket} -f {tmp_path / 'krb5.keytab'} "
                       "-u dns-updater/node1.example.org@EXAMPLE.ORG"]
    nsupdates = [line for line in lines if line.startswith("nsupdate")]
    assert len(nsupdates) == 3  # one per zone: forward, in-addr.arpa, ip6.arpa
    assert all(line.startswith("nsupdate -g -v -t ") and line.endswith(f"KRB5CCNAME=FILE:{ticket}")
               for line in nsupdates)

    # A valid ticket is reused: no k5start the second time.
    calls.unlink()
    hook.run(hook_env("OP_INSTANCE_REMOVE", "web1", NIC), path=path)
    assert named.records() == set()
    assert not any(line.startswith("k5start") for line in calls.read_text().splitlines())


def test_kerberos_ticket_failure_is_logged(named, kerberos):
    hook, path, calls, _ = kerberos
    fake(calls.parent / "bin", "k5start", 'echo "k5start: cannot read keytab" >&2\nexit 1\n')
    done = hook.run(hook_env("OP_INSTANCE_CREATE", "web1", NIC), path=path)
    assert done.returncode == 0
    assert named.records() == set()
    assert "authentication failure: kerberos: k5start for dns-updater" in hook.log()
    assert "cannot read keytab" in hook.log()
