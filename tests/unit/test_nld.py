"""snf-nld's decisions, against a fake kernel: versions, who may speak for what, never pointing at itself."""

from __future__ import annotations

import logging

import pytest

from snf_network.nld import daemon as nld
from snf_network.nld import protocol
from snf_network.overlay import config
from snf_network.overlay.backends import mac_of

SELF, B, C, STRANGER = "198.51.100.2", "198.51.100.6", "198.51.100.10", "203.0.113.7"


class FakeBatch:
    def __init__(self, kernel: FakeKernel) -> None:
        self.kernel = kernel

    def set_neigh(self, ifindex: int, ip: str, lladdr: str, permanent: bool = True) -> None:
        self.kernel.neigh[ip] = (lladdr, 0x80)

    def del_neigh(self, ifindex: int, ip: str) -> None:
        self.kernel.neigh.pop(ip, None)

    def add_fdb(self, ifindex: int, mac: str, dst: str) -> None:
        self.kernel.fdb_entries.add((mac, dst))

    def del_fdb(self, ifindex: int, mac: str, dst: str) -> None:
        self.kernel.fdb_entries.discard((mac, dst))

    def send(self) -> list[tuple[int, int]]:
        return []


class FakeKernel:
    def __init__(self) -> None:
        self.neigh: dict[str, tuple[str, int]] = {}
        self.routes: dict[str, int] = {}
        self.fdb_entries: set[tuple[str, str]] = set()
        self.index = 7

    def ifindex(self, name: str) -> int:
        return self.index

    def neighbours(self, ifindex: int) -> dict[str, tuple[str, int]]:
        return dict(self.neigh)

    def host_routes(self, table: int, network: object) -> dict[str, int]:
        return dict(self.routes)

    def fdb(self, ifindex: int) -> set[tuple[str, str]]:
        return set(self.fdb_entries)

    def batch(self) -> FakeBatch:
        return FakeBatch(self)


def daemon(eager: bool = False) -> tuple[nld.Nld, FakeKernel, list[tuple[dict[str, object], str]]]:
    ov = config.build_overlay("public", {"INSTANCE_NETWORK": "192.0.2.0/24", "OVERLAY_BACKEND": "vxlan",
                                         "EAGER": "yes" if eager else "no"}, "x")
    d = nld.Nld.__new__(nld.Nld)
    d.log = logging.getLogger("test-nld")
    d.clock = lambda: 1_000.0
    d.counters = {"not_own": 0, "sent": 0, "installed": 0, "removed": 0, "queries_dropped": 0}
    d.query_window = [0.0, 0]
    d.self_ip, d.peers, d.mine = SELF, {B, C}, {SELF}
    d.cfg = config.NbmaConfig("/nonexistent", {"PEERS_FILE": "/nonexistent", "FIREWALL": "none", "PEERS": [B, C]},
                              [ov])
    d.opener = protocol.Opener(b"k" * 32, 60)
    kernel = FakeKernel()
    d.kernel = kernel  # type: ignore[assignment]
    state = nld.OverlayState(ov, 7, endpoint=False)
    d.states, d.by_ifindex, d.by_key = [state], {7: state}, {"42": state}
    sent: list[tuple[dict[str, object], str]] = []
    d.send = lambda message, peer: sent.append((message, peer))  # type: ignore[method-assign]
    return d, kernel, sent


def announce(src: str, ip: str, ms: int, up: bool = True, node: str | None = None) -> dict[str, object]:
    return {"type": "announce", "ov": 42, "entries": [{"ip": ip, "node": node or src, "ver": [ms, src], "up": up}]}


def test_a_newer_owner_wins_and_an_older_one_does_not() -> None:
    d, kernel, _ = daemon()
    kernel.neigh["192.0.2.22"] = ("", 0x01)  # the kernel asked (INCOMPLETE)
    d._handle(announce(B, "192.0.2.22", 100), B)
    assert kernel.neigh["192.0.2.22"][0] == mac_of(B)
    d._handle(announce(C, "192.0.2.22", 200), C)
    assert kernel.neigh["192.0.2.22"][0] == mac_of(C)
    d._handle(announce(B, "192.0.2.22", 150), B)  # late, or replayed with a new nonce: older
    assert kernel.neigh["192.0.2.22"][0] == mac_of(C)
    assert (mac_of(C), C) in kernel.fdb_entries


def test_a_node_speaks_only_for_its_own_instances() -> None:
    d, kernel, _ = daemon(eager=True)
    d._handle(announce(B, "192.0.2.22", 100, node=C), B)
    assert kernel.neigh == {} and d.counters["not_own"] == 1


def test_only_the_current_owner_withdraws() -> None:
    d, kernel, sent = daemon(eager=True)
    d._handle(announce(C, "192.0.2.22", 200), C)
    d._handle(announce(B, "192.0.2.22", 300, up=False), B)  # B is not the owner any more
    assert kernel.neigh["192.0.2.22"][0] == mac_of(C)
    d._handle(announce(C, "192.0.2.22", 300, up=False), C)
    assert kernel.neigh["192.0.2.22"][0] == mac_of(C)  # kept a while: C forwards if it moved
    assert [m["type"] for m, _ in sent] == ["query", "query"]  # and whoever has it now is asked
    d.states[0].gone["192.0.2.22"] -= 2 * d.cfg.snapshot_interval + 1  # no one claimed it for two snapshots
    d.reconcile()
    assert "192.0.2.22" not in kernel.neigh


def test_never_an_entry_pointing_at_itself() -> None:
    d, kernel, _ = daemon(eager=True)
    d.peers.add(SELF)  # even if the peer list names this node
    d._handle(announce(SELF, "192.0.2.33", 100), SELF)
    assert "192.0.2.33" not in kernel.neigh
    kernel.neigh["192.0.2.44"] = (mac_of(SELF), 0x80)  # left by someone else
    kernel.neigh["192.0.2.45"] = (mac_of(STRANGER), 0x80)  # a node that is no peer
    kernel.neigh["192.0.2.46"] = (mac_of(B), 0x80)  # a real peer: kept
    d.peers.discard(SELF)
    d.reconcile()
    assert set(kernel.neigh) == {"192.0.2.46"}


def test_a_local_route_is_announced_then_withdrawn() -> None:
    d, kernel, sent = daemon()
    kernel.routes["192.0.2.11"] = 3  # a tap
    kernel.routes["192.0.2.12"] = 7  # the overlay itself: not an instance here
    d.reconcile()
    assert d.states[0].local == {"192.0.2.11": 1_000_000}
    announced = [m for m, _ in sent if m["type"] == "announce"]
    assert {peer for _, peer in sent} == {B, C}
    assert announced[0]["entries"] == [{"ip": "192.0.2.11", "node": SELF, "ver": [1_000_000, SELF], "up": True}]
    sent.clear()
    del kernel.routes["192.0.2.11"]
    d.reconcile()
    assert d.states[0].local == {}
    assert [m["entries"][0]["up"] for m, _ in sent] == [False, False]  # type: ignore[index]


def test_a_miss_is_answered_from_what_peers_said_else_asked() -> None:
    d, kernel, sent = daemon()
    d._miss(d.states[0], nld.Event("miss", ifindex=7, ip="192.0.2.22"))
    assert [m["type"] for m, _ in sent] == ["query", "query"]
    d._miss(d.states[0], nld.Event("miss", ifindex=7, ip="192.0.2.22"))
    assert len(sent) == 2  # one query per address per probe interval
    d._handle(announce(B, "192.0.2.22", 100), B)
    d._miss(d.states[0], nld.Event("miss", ifindex=7, ip="192.0.2.22"))
    assert kernel.neigh["192.0.2.22"][0] == mac_of(B)


def test_a_hairpin_makes_the_old_owner_tell_its_peers() -> None:
    d, kernel, sent = daemon()
    kernel.routes["192.0.2.22"] = 3
    d.reconcile()
    del kernel.routes["192.0.2.22"]
    d.reconcile()  # gave it up
    d._handle(announce(C, "192.0.2.22", 2_000_000), C)
    sent.clear()
    d._miss(d.states[0], nld.Event("miss", ifindex=7, ip="192.0.2.22"))  # traffic for it still comes here
    assert [m["type"] for m, _ in sent] == ["redirect", "redirect"]
    assert kernel.neigh["192.0.2.22"][0] == mac_of(C)  # and it forwards what arrives


def test_a_redirect_makes_the_sender_of_a_hairpin_ask_the_owner_again() -> None:
    d, kernel, sent = daemon()
    kernel.neigh["192.0.2.22"] = (mac_of(B), 0x80)
    d._handle(announce(B, "192.0.2.22", 100), B)
    d._handle({"type": "redirect", "ov": 42, "ip": "192.0.2.22", "node": C}, B)
    assert "192.0.2.22" not in d.states[0].remote  # B no longer vouches for it
    assert kernel.neigh["192.0.2.22"][0] == mac_of(B)  # B still forwards (a triangle) until the owner answers
    assert [m["type"] for m, _ in sent] == ["query", "query"]
    d._handle(announce(C, "192.0.2.22", 50), C)  # any version now: the one it had came from B
    assert kernel.neigh["192.0.2.22"][0] == mac_of(C)


def test_a_scanning_tenant_costs_the_peers_a_bounded_number_of_queries() -> None:
    d, _, sent = daemon()
    for i in range(1000):
        d._miss(d.states[0], nld.Event("miss", ifindex=7, ip=f"192.0.2.{i % 100 + 1}"))
    assert len(sent) == 2 * 100  # each address once per probe interval, to both peers
    for i in range(1000):
        d._miss(d.states[0], nld.Event("miss", ifindex=7, ip=f"192.0.2.{i % 250 + 1}"))
    assert len(sent) == 2 * nld.MAX_QUERIES_PER_SECOND  # and no more than this a second, whatever the scan
    assert d.counters["queries_dropped"] == 4 * (250 - nld.MAX_QUERIES_PER_SECOND)  # each refused miss, 4 rounds


def test_a_recreated_device_is_followed() -> None:
    d, kernel, _ = daemon()
    kernel.index = 0  # torn down
    d.reconcile()
    assert d.by_ifindex == {}
    kernel.index = 12  # set up again
    kernel.neigh["192.0.2.46"] = (mac_of(SELF), 0x80)
    d.reconcile()
    assert d.by_ifindex == {12: d.states[0]} and "192.0.2.46" not in kernel.neigh


def test_the_daemon_refuses_to_start_wrongly_in_one_line(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from snf_network.nld.main import main

    monkeypatch.setenv("SNF_NETWORK_CONFIG", str(tmp_path / "snf-network.conf"))
    (tmp_path / "snf-network.conf").write_text(f"NBMA_CONFIG_DIR={tmp_path}\n")
    assert main([]) == 2
    assert "--foreground" in capsys.readouterr().err
    assert main(["--foreground"]) == 2
    assert "no overlay configured" in capsys.readouterr().err
    (tmp_path / "overlays").mkdir()
    (tmp_path / "overlays" / "public.conf").write_text("INSTANCE_NETWORK=192.0.2.0/24\n")
    assert main(["--foreground"]) == 2
    err = capsys.readouterr().err
    assert "HMAC_KEY_FILE" in err and len(err.strip().splitlines()) == 1


def test_a_key_others_can_read_is_refused(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    # A local user who reads the key can forge this node's datagrams: it may send UDP from the node's address.
    from snf_network.nld.main import main

    monkeypatch.setenv("SNF_NETWORK_CONFIG", str(tmp_path / "snf-network.conf"))
    (tmp_path / "snf-network.conf").write_text(f"NBMA_CONFIG_DIR={tmp_path}\n")
    (tmp_path / "overlays").mkdir()
    # Should the key be accepted, the BASE_NETDEV that does not exist stops the daemon before it touches anything.
    (tmp_path / "overlays" / "public.conf").write_text(
        "INSTANCE_NETWORK=192.0.2.0/24\nLOCAL_IP=198.51.100.2\nBASE_NETDEV=snfnoexist0\n")
    key = tmp_path / "hmac.key"
    key.write_text("k" * 32 + "\n")
    for mode in (0o644, 0o640, 0o604):
        key.chmod(mode)
        assert main(["--foreground"]) == 2
        err = capsys.readouterr().err
        assert "HMAC_KEY_FILE" in err and "mode 0600" in err and len(err.strip().splitlines()) == 1, err
    key.chmod(0o600)
    main(["--foreground"])
    assert "mode 0600" not in capsys.readouterr().err


def test_a_bad_line_in_the_peers_file_does_not_stop_the_reconcile(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Ganeti rewrites ssconf_node_primary_ips; a line that is no IPv4 address (an IPv6 cluster, a typo in a
    # hand-made PEERS_FILE) must not stop the daemon from repairing the kernel, nor empty its peer list.
    d, kernel, _ = daemon()
    peers = tmp_path / "peers"
    peers.write_text(f"{B}\n2001:db8::1\n{C}\n")
    d.cfg.peers_file = str(peers)
    kernel.neigh["192.0.2.44"] = (mac_of(SELF), 0x80)
    d.reconcile()
    assert "192.0.2.44" not in kernel.neigh and d.peers == {B, C}


def test_an_entry_adopted_at_start_towards_a_non_peer_is_never_put_back() -> None:
    # A node that left the cluster (its address possibly someone else's now) must not get the traffic back
    # on the next miss just because the kernel pointed at it when the daemon started.
    d, kernel, sent = daemon()
    kernel.neigh["192.0.2.45"] = (mac_of(STRANGER), 0x80)
    d._adopt()
    assert "192.0.2.45" not in kernel.neigh
    d._miss(d.states[0], nld.Event("miss", ifindex=7, ip="192.0.2.45"))
    assert "192.0.2.45" not in kernel.neigh and (mac_of(STRANGER), STRANGER) not in kernel.fdb_entries
    assert [m["type"] for m, _ in sent] == ["query", "query"]  # asked the peers instead


def test_only_the_daemon_answers_a_status_request(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The client's address is abstract, so any local user may send to it: a forged "all is well" must be ignored.
    import socket
    import threading

    monkeypatch.setattr(nld.random, "getrandbits", lambda bits: 7)
    client = f"\0snf-nld-client-{nld.os.getpid()}-7"
    path = str(tmp_path / "nld.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    intruder = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    def serve() -> None:
        _, address = server.recvfrom(100)
        intruder.sendto(b'{"forged": true}', client)
        server.sendto(b'{"node": "198.51.100.2"}', address)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        assert nld.ask(path, "status") == {"node": "198.51.100.2"}
    finally:
        thread.join()
        server.close()
        intruder.close()


def test_the_control_socket_is_not_made_in_a_folder_others_may_write(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from snf_network.errors import ConfigError

    d, _, _ = daemon()
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    d.control_path, d.control = str(shared / "nld.sock"), None
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(ConfigError, match="written by others"):
            d._open_control(loop)
        assert not (shared / "nld.sock").exists()
        shared.chmod(0o755)
        d._open_control(loop)
        assert (shared / "nld.sock").stat().st_mode & 0o077 == 0  # only root may nudge or ask
    finally:
        if d.control is not None:
            loop.remove_reader(d.control.fileno())
            d.control.close()
        loop.close()
