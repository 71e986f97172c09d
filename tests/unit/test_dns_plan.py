"""The updates planned for each operation, as nsupdate scripts (also what kerberos sends)."""

from __future__ import annotations

from ipaddress import ip_address

from snf_network.dns.plan import build, build_removal

V4A, V4B = ip_address("192.0.2.10"), ip_address("198.51.100.20")
V6 = ip_address("2001:db8:0:1:a800:ff:fe44:5566")
V6_PTR = "6.6.5.5.4.4.e.f.f.f.0.0.0.0.8.a.1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
FQDN, NEW = "web1.example.org.", "web2.example.org."


def scripts(updates, ttl=300):
    return "".join(update.nsupdate_script(ttl) for update in updates)


def test_create():
    updates = build(fzone="example.org", reverse_zones=(), target=FQDN, addresses=[V4B, V6, V4A, V4A],
                    held={FQDN: []})
    assert scripts(updates) == f"""\
zone example.org.
update delete web1.example.org. A
update add web1.example.org. 300 A 192.0.2.10
update add web1.example.org. 300 A 198.51.100.20
update delete web1.example.org. AAAA
update add web1.example.org. 300 AAAA 2001:db8:0:1:a800:ff:fe44:5566
send
zone 1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.
update delete {V6_PTR} PTR
update add {V6_PTR} 300 PTR web1.example.org.
send
zone 100.51.198.in-addr.arpa.
update delete 20.100.51.198.in-addr.arpa. PTR
update add 20.100.51.198.in-addr.arpa. 300 PTR web1.example.org.
send
zone 2.0.192.in-addr.arpa.
update delete 10.2.0.192.in-addr.arpa. PTR
update add 10.2.0.192.in-addr.arpa. 300 PTR web1.example.org.
send
"""


def test_modify_deletes_stale_ptrs_by_value_only():
    held = {FQDN: [V4A, V4B, V6]}
    updates = build(fzone="example.org", reverse_zones=(), target=FQDN, addresses=[V4B], held=held)
    text = scripts(updates)
    assert "update delete web1.example.org. AAAA\n" in text
    assert "update add web1.example.org. 300 AAAA" not in text
    assert "update delete 10.2.0.192.in-addr.arpa. PTR web1.example.org.\n" in text
    assert f"update delete {V6_PTR} PTR web1.example.org.\n" in text
    assert "update add 20.100.51.198.in-addr.arpa. 300 PTR web1.example.org.\n" in text
    # Never a whole-name delete (that wiped administrators' TXT/MX in the original).
    assert not any(line.count(" ") == 2 and line.startswith("update delete") for line in text.splitlines())


def test_rename_moves_every_nic_and_drops_the_old_name():
    held = {FQDN: [V4A, V6], NEW: []}
    updates = build(fzone="example.org", reverse_zones=(), target=NEW, addresses=[V4A, V4B, V6],
                    gone=[FQDN], held=held)
    assert [u.zone for u in updates] == ["example.org", "1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
                                         "100.51.198.in-addr.arpa", "2.0.192.in-addr.arpa"]
    forward = updates[0].nsupdate_script(60)
    assert "update delete web1.example.org. A\nupdate delete web1.example.org. AAAA\n" in forward
    assert "update add web2.example.org. 60 A 192.0.2.10\n" in forward
    text = scripts(updates)
    # PTRs of addresses kept are replaced (pointing to the new name), never deleted by the old value.
    assert "PTR web1.example.org." not in text
    assert text.count("PTR web2.example.org.") == 3


def test_remove():
    updates = build(fzone="example.org", reverse_zones=(), target=None, addresses=[],
                    gone=[FQDN], held={FQDN: [V4A, V6]})
    assert scripts(updates) == f"""\
zone example.org.
update delete web1.example.org. A
update delete web1.example.org. AAAA
send
zone 1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.
update delete {V6_PTR} PTR web1.example.org.
send
zone 2.0.192.in-addr.arpa.
update delete 10.2.0.192.in-addr.arpa. PTR web1.example.org.
send
"""


def test_configured_reverse_zone_groups_updates():
    updates = build(fzone="example.org", reverse_zones=("in-addr.arpa",), target=FQDN,
                    addresses=[V4A, V4B], held={})
    assert [u.zone for u in updates] == ["example.org", "in-addr.arpa"]
    assert len(updates[1].changes) == 2


def test_one_nic_removal_deletes_exact_values():
    updates = build_removal(fzone="example.org", reverse_zones=(), name=FQDN, addresses=[V4A, V6])
    assert scripts(updates) == f"""\
zone example.org.
update delete web1.example.org. A 192.0.2.10
update delete web1.example.org. AAAA 2001:db8:0:1:a800:ff:fe44:5566
send
zone 1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.
update delete {V6_PTR} PTR web1.example.org.
send
zone 2.0.192.in-addr.arpa.
update delete 10.2.0.192.in-addr.arpa. PTR web1.example.org.
send
"""
    assert updates[0].describe() == ("delete web1.example.org. A 192.0.2.10; "
                                     "delete web1.example.org. AAAA 2001:db8:0:1:a800:ff:fe44:5566")
