"""The NBMA overlay with the VXLAN backend, end to end, against the real kernel (docs/nbma.md).

Three nodes and an endpoint, each in its own /30 behind a router (no two
share a LAN: tests/nbma_lab.py), run the real ``snf-network overlay setup``
and the real ``snf-nld``; VMs come up through our real kvm-vif-bridge. One
lab serves the whole module, in the order of its tests: set-up, traffic,
migration, the endpoint, hostile datagrams, stopping, teardown.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from snf_network.nld import protocol
from snf_network.overlay.backends import mac_of
from tests.kernel.two_nodes import hook_env, run_hook
from tests.lab import Lab, can_run, sh
from tests.nbma_lab import KEY, NODES, OUTSIDE, NbmaLab

pytestmark = pytest.mark.kernel

IP1, IP2, UNUSED = "192.0.2.11", "192.0.2.22", "192.0.2.99"
Snf = Callable[..., subprocess.CompletedProcess[str]]


def underlay_state(lab: NbmaLab, label: str) -> dict[str, str]:
    node = lab.nodes[label]
    """What the overlay could leave in ``label`` (snf-network's own NIC tables aside: the NICs' tests check them)."""
    out = {"links": " ".join(sorted(line.split(":")[1].strip().split("@")[0] for line in node.ns(
        node.node, "ip", "-o", "link", "show").stdout.splitlines()))}
    for name, argv in {"rules": ["ip", "-4", "rule"],
                       "routes": ["ip", "-4", "route", "show", "table", "all"],
                       "neigh": ["ip", "-4", "neigh", "show", "nud", "permanent"],
                       "nft": ["nft", "list", "table", "inet", "snf_nbma"]}.items():
        out[name] = "".join(line for line in node.ns(node.node, *argv, check=False).stdout.splitlines(keepends=True)
                            if "proto kernel" not in line and "tap" not in line)
    return out


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NbmaLab]:
    reason = can_run()
    if reason:
        pytest.skip(f"kernel tests skipped: {reason}")
    built = NbmaLab(tmp_path_factory.mktemp("nbma"), snapshot=3, reconcile=2)
    try:
        built.build()
        built.baseline = {label: underlay_state(built, label) for label in NODES}  # type: ignore[attr-defined]
        yield built
    finally:
        built.close()


def wait_for(condition, seconds: float = 3.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def test_underlay_is_nbma_nodes_share_no_lan(lab: NbmaLab) -> None:
    a = lab.nodes["a"]
    # B answers pings through the router (TTL 63); the only neighbour A ever resolves is the router.
    ping = a.ns(a.node, "ping", "-c", "1", "-W", "2", NODES["b"]).stdout
    assert "ttl=63" in ping, ping
    neighbours = a.ns(a.node, "ip", "-4", "neigh", "show", "dev", "eth0").stdout.split("\n")
    assert [line.split()[0] for line in neighbours if line] == ["198.51.100.1"], neighbours


def test_dry_run_prints_the_exact_changes_and_makes_none(lab: NbmaLab) -> None:
    a = lab.nodes["a"]
    before = underlay_state(lab, "a")
    out = a.snf("overlay", "setup", "--dry-run").stdout
    assert "ip link add vx42 type vxlan id 42 local 198.51.100.2 dstport 4789 nolearning proxy l2miss l3miss" in out
    assert f"bridge fdb append {mac_of(NODES['b'])} dev vx42 dst {NODES['b']} self permanent" in out
    assert "ip route replace default via 192.0.2.254 dev vx42 onlink table 100 proto static" in out
    assert "ip rule add iif vx42 lookup 100" in out
    assert "ip rule add to 192.0.2.0/24 iif lo lookup 100" in out
    assert underlay_state(lab, "a") == before


def test_setup_is_exact_and_idempotent(lab: NbmaLab) -> None:
    lab.setup_all()
    for label, node in lab.nodes.items():
        assert node.snf("overlay", "setup").stdout == "", label  # a second run finds nothing to do
        assert node.snf("overlay", "status").returncode == 0
    a = lab.nodes["a"]
    details = a.ns(a.node, "ip", "-d", "link", "show", "vx42").stdout
    assert "vxlan id 42 local 198.51.100.2" in details and "nolearning" in details, details
    assert f"link/ether {mac_of(NODES['a'])}" in details and "mtu 1450" in details
    fdb = a.ns(a.node, "bridge", "fdb", "show", "dev", "vx42").stdout
    assert "00:00:00:00:00:00" not in fdb  # nothing is flooded
    assert sorted(line.split()[2] for line in fdb.splitlines() if " dst " in line) == sorted(
        NODES[x] for x in "bce")
    for name, value in (("ipv4/neigh/vx42/app_solicit", "3"), ("ipv4/neigh/vx42/ucast_solicit", "0"),
                        ("ipv4/neigh/vx42/mcast_solicit", "0"), ("ipv6/conf/vx42/disable_ipv6", "1")):
        assert a.ns(a.node, "cat", f"/proc/sys/net/{name}").stdout.strip() == value, name
    table = a.ns(a.node, "ip", "route", "show", "table", "100").stdout
    assert "default via 192.0.2.254 dev vx42 proto static onlink" in table, table
    assert "throw 198.51.100.0/24" in table
    assert f"192.0.2.254 lladdr {mac_of(NODES['e'])} PERMANENT" in a.ns(a.node, "ip", "neigh", "show", "dev",
                                                                         "vx42").stdout
    e = lab.endpoint
    assert "inet 192.0.2.254/24" in e.ns(e.node, "ip", "addr", "show", "dev", "vx42").stdout
    lab.start_daemons()


def test_vms_on_two_nodes_reach_each_other(lab: NbmaLab) -> None:
    v1 = lab.vm("a", 1, IP1)
    lab.vm("b", 2, IP2)
    # The first echo already succeeds: the kernel's miss is answered by a peer's reply.
    first = sh("ip", "netns", "exec", v1.name, "ping", "-c", "1", "-W", "2", IP2, check=False).stdout
    assert "1 received" in first and "ttl=62" in first, first
    assert lab.ping(v1.name, IP2, count=10, interval=0.05)
    a = lab.nodes["a"]
    assert a.neighbour("vx42", IP2) == mac_of(NODES["b"])
    # Our ifup told the daemon (best effort, a datagram): logged once the daemon has read it.
    assert wait_for(lambda: "nudged: up tap1" in a.daemon_log(), 5), a.daemon_log()[-1000:]
    # C never heard of either (nothing was flooded to it).
    c = lab.nodes["c"]
    assert c.neighbour("vx42", IP1) == "" and c.neighbour("vx42", IP2) == ""


def test_the_overlay_mtu_is_discovered_not_a_black_hole(lab: NbmaLab) -> None:
    v1 = lab.nodes["a"].vms[0]
    big = sh("ip", "netns", "exec", v1.name, "ping", "-M", "do", "-s", "1472", "-c", "2", "-i", "0.2", "-W", "1",
             IP2, check=False)
    assert "mtu = 1450" in big.stdout + big.stderr or "mtu=1450" in big.stdout + big.stderr, big
    assert lab.ping(v1.name, IP2, count=1) and sh("ip", "netns", "exec", v1.name, "ping", "-M", "do", "-s", "1422",
                                                   "-c", "1", "-W", "2", IP2, check=False).returncode == 0


def test_an_unknown_address_is_unreachable_and_nothing_leaves(lab: NbmaLab) -> None:
    v1 = lab.nodes["a"].vms[0]
    out = sh("ip", "netns", "exec", v1.name, "ping", "-c", "1", "-W", "5", UNUSED, check=False).stdout
    assert "0 received" in out


def test_live_migration_resumes_within_two_seconds_and_nobody_points_at_the_old_node(lab: NbmaLab) -> None:
    v1 = lab.nodes["a"].vms[0]
    v2 = lab.nodes["b"].vms[0]
    assert lab.ping(v1.name, IP2, count=1)
    # From the moment the new node's ifup has run: in a real migration it runs before the VM
    # resumes there, and the old node's ifdown after. Timed from before the move, the two
    # programs' start-up (a second or more on a loaded machine) would count against the
    # two seconds.
    start = lab.migrate(v2, "b", "c")
    assert wait_for(lambda: lab.ping(v1.name, IP2, count=1, wait=0.2), 2.0 + (time.monotonic() - start))
    resumed = time.monotonic() - start
    assert resumed < 2.0, resumed
    assert wait_for(lambda: "nudged: down tap2" in lab.nodes["b"].daemon_log(), 5)
    # Ganeti's instance-migrate post hook runs on every node; each nudges its daemon.
    for label in ("b", "c"):
        node = lab.nodes[label]
        env = hook_env(node.config_path, "OP_INSTANCE_MIGRATE", f"{v2.name}.example.org", [],
                       GANETI_OLD_PRIMARY="nodeb.example.org", GANETI_NEW_PRIMARY="nodec.example.org")
        assert run_hook(node, env).returncode == 0
        assert wait_for(lambda node=node: f"nudged: moved {v2.name}.example.org" in node.daemon_log(), 2)
    old = mac_of(NODES["b"])
    assert wait_for(lambda: lab.nodes["a"].neighbour("vx42", IP2) == mac_of(NODES["c"]), 2.0)
    for label, node in lab.nodes.items():
        assert node.neighbour("vx42", IP2) != old, label
    # The endpoint learns the new place too, when the outside world talks to the VM.
    assert lab.ping(lab.outside, IP2, count=2)
    assert lab.endpoint.neighbour("vx42", IP2) == mac_of(NODES["c"])
    # No node ever holds an entry pointing at itself.
    for label, node in lab.nodes.items():
        entries = node.ns(node.node, "ip", "neigh", "show", "dev", "vx42").stdout
        assert mac_of(node.address) not in entries, (label, entries)


def test_a_stale_entry_is_repaired(lab: NbmaLab) -> None:
    """An entry left pointing at the old node (a lost announce) heals: the old node sees the hairpin, or the
    snapshot and the reconcile correct it."""
    a = lab.nodes["a"]
    v1 = a.vms[0]
    a.ns(a.node, "ip", "neigh", "replace", IP2, "lladdr", mac_of(NODES["b"]), "dev", "vx42", "nud", "permanent")
    assert wait_for(lambda: a.neighbour("vx42", IP2) == mac_of(NODES["c"]), 2 * lab.reconcile + 1)
    assert lab.ping(v1.name, IP2, count=1)


def test_a_vm_reaches_an_outside_host_through_the_endpoint(lab: NbmaLab) -> None:
    v1 = lab.nodes["a"].vms[0]
    assert lab.ping(v1.name, OUTSIDE, count=3, interval=0.1)
    assert lab.ping(lab.outside, IP1, count=3, interval=0.1)


def _status(lab: NbmaLab, label: str) -> dict[str, int]:
    out = lab.nodes[label].snf("overlay", "status").stdout
    line = next(line for line in out.splitlines() if line.strip().startswith("protocol:"))
    return {k: int(v) for k, v in (part.split() for part in line.split(":", 1)[1].split(","))}


def _send(lab: NbmaLab, label: str, to: str, data: bytes) -> None:
    """A datagram to ``to``:1816 from ``label``'s address (a peer's: the firewall lets it through)."""
    node = lab.nodes[label]
    code = (f"import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(({node.address!r}, 0)); "
            f"s.sendto(bytes.fromhex({data.hex()!r}), ({to!r}, 1816))")
    node.ns(node.node, "python3", "-c", code)


def test_forged_and_replayed_datagrams_change_nothing(lab: NbmaLab) -> None:
    a = lab.nodes["a"]
    before = a.ns(a.node, "ip", "neigh", "show", "dev", "vx42").stdout
    counts = _status(lab, "a")
    claim = {"type": "announce", "ov": 42, "entries": [
        {"ip": IP2, "node": NODES["b"], "ver": [int(time.time() * 1000) + 10_000, NODES["b"]], "up": True}]}
    # A wrong key.
    _send(lab, "b", NODES["a"], protocol.seal(b"not-the-key-0123456789", claim, NODES["b"]))
    # The right key, an old timestamp.
    _send(lab, "b", NODES["a"], protocol.seal(KEY.encode(), claim, NODES["b"], clock=lambda: time.time() - 120))
    # The right key, speaking for another node than the sender.
    _send(lab, "b", NODES["a"], protocol.seal(KEY.encode(), claim, NODES["c"]))
    # A real datagram, captured on the wire, sent again: C's answer to a query for the VM it now hosts.
    # The query goes out from a Python started in A after the sniffer: a window a loaded machine cannot miss.
    sniffer = lab.nodes["a"].sniff(lab.router, "r-c", seconds=5.0)
    _send(lab, "a", NODES["c"], protocol.seal(KEY.encode(), {"type": "query", "ov": 42, "ips": [IP2]}, NODES["a"],
                                             dst=NODES["c"]))
    a_ip = socket.inet_aton(NODES["a"])
    sealed = [f[42:] for f in sniffer.frames() if len(f) > 46 and f[23] == 17 and f[30:34] == a_ip
              and f[36:38] == (1816).to_bytes(2, "big") and f[42:46] == protocol.MAGIC]
    assert sealed, "C did not answer the query"
    garbage = bytes(range(256)) * 5
    _send(lab, "b", NODES["a"], garbage)
    _send(lab, "c", NODES["a"], sealed[0])
    # The same capture at another peer, whose replay cache never saw it: it was sealed for A.
    b_before = _status(lab, "b")
    _send(lab, "c", NODES["b"], sealed[0])
    # Counted once the daemons have read them: waited for, not slept for (then checked exactly).
    wait_for(lambda: _status(lab, "b")["not_for_us"] > b_before["not_for_us"], 10)
    assert _status(lab, "b")["not_for_us"] == b_before["not_for_us"] + 1
    wait_for(lambda: _status(lab, "a")["replayed"] > counts["replayed"], 10)
    after = _status(lab, "a")
    assert after["bad_hmac"] == counts["bad_hmac"] + 1
    assert after["clock_skew"] == counts["clock_skew"] + 1
    assert after["not_a_peer"] == counts["not_a_peer"] + 1
    assert after["bad_magic"] == counts["bad_magic"] + 1
    assert after["replayed"] == counts["replayed"] + 1
    assert a.ns(a.node, "ip", "neigh", "show", "dev", "vx42").stdout == before
    assert a.neighbour("vx42", IP2) == mac_of(NODES["c"])
    assert lab.nodes["a"].daemon is not None and lab.nodes["a"].daemon.poll() is None


def test_a_lost_announce_heals_and_traffic_goes_on_meanwhile(lab: NbmaLab) -> None:
    """B's datagrams never reach A while the VM migrates back from C to B: A keeps sending to C, which
    forwards to B (a triangle) and sees the hairpin; once B is heard again its snapshot repoints A."""
    a, c = lab.nodes["a"], lab.nodes["c"]
    v1, v2 = a.vms[0], lab.nodes["b"].vms[0]
    a.ns(a.node, "nft", "insert", "rule", "inet", "snf_nbma", "input", "ip", "saddr", NODES["b"], "udp", "dport",
         "1816", "counter", "drop", "comment", '"test: lost announce"')
    try:
        lab.migrate(v2, "c", "b")
        assert lab.ping(v1.name, IP2, count=5, interval=0.1)
        assert a.neighbour("vx42", IP2) == mac_of(NODES["c"])  # A heard nothing: the triangle carried it
        assert wait_for(lambda: "hairpin" in c.daemon_log(), 2)
    finally:
        chain = a.ns(a.node, "nft", "-a", "list", "chain", "inet", "snf_nbma", "input").stdout
        handle = next(line.split("handle")[1].split()[0] for line in chain.splitlines() if "lost announce" in line)
        a.ns(a.node, "nft", "delete", "rule", "inet", "snf_nbma", "input", "handle", handle)
    assert wait_for(lambda: a.neighbour("vx42", IP2) == mac_of(NODES["b"]), lab.snapshot * 1.1 + 2)
    assert lab.ping(v1.name, IP2, count=1)


def _dropped(lab: NbmaLab, label: str, port: int) -> int:
    node = lab.nodes[label]
    ruleset = node.ns(node.node, "nft", "list", "table", "inet", "snf_nbma").stdout
    line = next(line for line in ruleset.splitlines() if f"udp dport {port} " in line)
    return int(line.split("packets")[1].split()[0])


def test_the_peer_port_and_vxlan_are_closed_to_non_peers(lab: NbmaLab) -> None:
    """The router is no peer: its datagrams never reach the daemon (nor its VXLAN the overlay)."""
    a = lab.nodes["a"]
    before = (_dropped(lab, "a", 1816), _dropped(lab, "a", 4789), _status(lab, "a"))
    for port in (1816, 4789):
        code = ("import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                f"s.sendto(b'SNB1' + bytes(60), ({NODES['a']!r}, {port}))")
        sh("ip", "netns", "exec", lab.router, "python3", "-c", code)
    wait_for(lambda: (_dropped(lab, "a", 1816), _dropped(lab, "a", 4789)) >= (before[0] + 1, before[1] + 1), 5)
    assert _dropped(lab, "a", 1816) == before[0] + 1
    assert _dropped(lab, "a", 4789) == before[1] + 1
    refused = {k: v for k, v in _status(lab, "a").items() if k != "accepted"}  # peers' snapshots go on
    assert refused == {k: v for k, v in before[2].items() if k != "accepted"}
    assert a.daemon is not None and a.daemon.poll() is None


def test_a_new_node_in_ganeti_s_list_becomes_a_peer(lab: NbmaLab) -> None:
    """Ganeti rewrites ssconf_node_primary_ips when a node joins: the daemons follow (firewall, FDB)."""
    a = lab.nodes["a"]
    peers = lab.workdir / "ssconf_node_primary_ips"
    newcomer = "198.51.100.18"

    def rewrite(text: str) -> None:
        # As Ganeti writes its ssconf files: aside, then renamed into place. Rewritten in place, a
        # reconcile reading it meanwhile (every node's, each RECONCILE_INTERVAL) would find no peers.
        aside = peers.with_name(peers.name + ".new")
        aside.write_text(text)
        aside.replace(peers)

    rewrite(peers.read_text() + newcomer + "\n")
    try:
        assert wait_for(lambda: newcomer in a.ns(a.node, "nft", "list", "set", "inet", "snf_nbma", "peers4").stdout,
                        3 * lab.reconcile)
        assert wait_for(lambda: f"{mac_of(newcomer)} dst {newcomer}" in a.ns(
            a.node, "bridge", "fdb", "show", "dev", "vx42").stdout, 2)
    finally:
        rewrite(peers.read_text().replace(newcomer + "\n", ""))
    assert wait_for(lambda: newcomer not in a.ns(a.node, "nft", "list", "set", "inet", "snf_nbma", "peers4").stdout,
                    3 * lab.reconcile)
    assert wait_for(lambda: newcomer not in a.ns(a.node, "bridge", "fdb", "show", "dev", "vx42").stdout, 2)


def test_a_crashed_daemon_restarts_without_a_flap_and_reloads_on_sighup(lab: NbmaLab) -> None:
    a = lab.nodes["a"]
    v1 = a.vms[0]
    before = a.ns(a.node, "ip", "neigh", "show", "dev", "vx42").stdout
    monitor = subprocess.Popen(["ip", "netns", "exec", a.node, "ip", "monitor", "neigh", "dev", "vx42"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert a.daemon is not None
        a.daemon.kill()  # kill -9: no chance to clean anything
        a.daemon.wait()
        a.daemon = None
        assert lab.ping(v1.name, IP2, count=3, interval=0.1)  # permanent entries: no daemon needed
        a.start_daemon()
        # Its start-up reconcile is done ("serving"); B's snapshot in answer to its sync, waited for
        # (a fixed second was less than a loaded machine needs, and the monitor would then miss a flap).
        assert wait_for(lambda: _status(lab, "a").get("accepted", 0) >= 1, 10), _status(lab, "a")
        assert lab.ping(v1.name, IP2, count=1)
    finally:
        monitor.terminate()
        events, _ = monitor.communicate(timeout=5)
    assert "Deleted" not in events, events  # no entry went away and came back
    assert a.ns(a.node, "ip", "neigh", "show", "dev", "vx42").stdout == before
    assert a.daemon is not None
    reloads = a.daemon_log().count("reload: done")
    a.daemon.send_signal(signal.SIGHUP)
    assert wait_for(lambda: a.daemon_log().count("reload: done") > reloads, 10), a.daemon_log()[-1000:]
    assert a.daemon.poll() is None


def test_a_vm_gone_for_good_leaves_no_entry_anywhere(lab: NbmaLab) -> None:
    v2 = lab.nodes["b"].vms[0]  # back on b since the lost-announce test
    lab.ifdown("b", v2, IP2)
    lab.nodes["b"].ns(lab.nodes["b"].node, "ip", "link", "del", v2.tap)  # the VM is destroyed
    assert wait_for(lambda: all(node.neighbour("vx42", IP2) == "" for node in lab.nodes.values()),
                    2 * lab.snapshot * 1.1 + lab.reconcile * 1.1 + 1)


def test_stopping_the_daemons_keeps_the_data_plane(lab: NbmaLab) -> None:
    v1 = lab.nodes["a"].vms[0]
    for node in lab.nodes.values():
        assert node.stop_daemon() == 0
    assert lab.ping(v1.name, OUTSIDE, count=3, interval=0.1)
    assert lab.ping(lab.outside, IP1, count=3, interval=0.1)


def test_teardown_leaves_nothing(lab: NbmaLab) -> None:
    lab.ifdown("a", lab.nodes["a"].vms[0], IP1)
    lab.nodes["a"].ns(lab.nodes["a"].node, "ip", "link", "del", "tap1")  # the VM goes (its veth is not ours)
    for label, node in lab.nodes.items():
        assert node.snf("overlay", "teardown", "--dry-run").stdout != ""
        node.snf("overlay", "teardown")
        assert node.snf("overlay", "teardown").stdout == ""
        assert underlay_state(lab, label) == lab.baseline[label], label  # type: ignore[attr-defined]
        assert not Path(node.socket_path).exists()


@contextlib.contextmanager
def one_node(tmp_path: Path, netns: str, *commands: str) -> Iterator[tuple[Lab, str, Snf]]:
    """A namespace with an underlay (eth0, 198.51.100.2/24, one peer listed) and an NBMA_CONFIG_DIR of its own:
    (the lab, the namespace, ``snf-network`` run in it)."""
    reason = can_run()
    if reason:
        pytest.skip(f"kernel tests skipped: {reason}")
    node = Lab(tmp_path)
    try:
        ns = node.netns(f"{netns}-{node.suffix}")
        for command in ("ip link add eth0 type veth peer name eth1", "ip addr add 198.51.100.2/24 dev eth0",
                        "ip link set eth0 up", *commands):
            node.ns(ns, *command.split())
        (tmp_path / "nbma" / "overlays").mkdir(parents=True)
        (tmp_path / "nbma" / "nbma.conf").write_text("PEERS=(198.51.100.6)\n")
        node.write_config(f"NBMA_CONFIG_DIR={tmp_path / 'nbma'}\n")
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "SNF_NETWORK_CONFIG": str(node.config_path)}

        def snf(*args: str) -> subprocess.CompletedProcess[str]:
            return sh("ip", "netns", "exec", ns, "env", *(f"{k}={v}" for k, v in env.items()),
                      str(node.program_path("snf-network")), *args, check=False)

        yield node, ns, snf
    finally:
        node.close()


def test_several_endpoints_share_the_routes_and_bad_input_changes_nothing(tmp_path: Path) -> None:
    with one_node(tmp_path, "snfnbm") as (node, ns, snf):
        overlay = tmp_path / "nbma" / "overlays" / "public.conf"
        links = node.ns(ns, "ip", "-o", "link").stdout
        overlay.write_text("OVERLAY_BACKEND=vxlan\nINSTANCE_NETWORK=192.0.2.0/24\nNBMAROUTES=(default)\n"
                           "ENDPOINTS=(192.0.2.253@198.51.100.14 192.0.2.254@$(reboot))\n")
        bad = snf("overlay", "setup")
        assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad
        assert node.ns(ns, "ip", "-o", "link").stdout == links
        overlay.write_text("OVERLAY_BACKEND=vxlan\nINSTANCE_NETWORK=192.0.2.0/24\nNBMAROUTES=(default)\n"
                           "ENDPOINTS=(192.0.2.253@198.51.100.14 192.0.2.254@198.51.100.18)\n")
        assert snf("overlay", "setup").returncode == 0
        assert snf("overlay", "setup").stdout == ""
        table = node.ns(ns, "ip", "route", "show", "table", "100").stdout
        assert "nexthop via 192.0.2.253 dev vx42 weight 1 onlink" in table
        assert "nexthop via 192.0.2.254 dev vx42 weight 1 onlink" in table
        # A device of that name that is not ours as configured: refused, nothing touched.
        overlay.write_text("OVERLAY_BACKEND=vxlan\nVXLAN_VNI=43\nOVERLAY_INTERFACE=vx42\n"
                           "INSTANCE_NETWORK=192.0.2.0/24\n")
        refused = snf("overlay", "setup")
        assert refused.returncode == 1 and "another VNI" in refused.stderr, refused
        overlay.write_text("OVERLAY_BACKEND=vxlan\nINSTANCE_NETWORK=192.0.2.0/24\nNBMAROUTES=(default)\n"
                           "ENDPOINTS=(192.0.2.253@198.51.100.14 192.0.2.254@198.51.100.18)\n")
        assert snf("overlay", "teardown").returncode == 0
        assert node.ns(ns, "ip", "-o", "link").stdout == links
        assert node.ns(ns, "ip", "route", "show", "table", "100").stdout == ""
        assert node.ns(ns, "ip", "rule").stdout.count("lookup 100") == 0


def test_teardown_never_deletes_a_device_it_did_not_create(tmp_path: Path) -> None:
    """A careless OVERLAY_INTERFACE naming an existing device: setup refuses it, and teardown must not delete it."""
    with one_node(tmp_path, "snfnbt", "ip link add vx42 type bridge") as (node, ns, snf):
        links = node.ns(ns, "ip", "-o", "link").stdout
        for device in ("eth1", "vx42"):  # the underlay's own veth peer; an operator's bridge of our default name
            (tmp_path / "nbma" / "overlays" / "public.conf").write_text(
                f"OVERLAY_BACKEND=vxlan\nOVERLAY_INTERFACE={device}\nINSTANCE_NETWORK=192.0.2.0/24\n")
            for args in (("setup",), ("teardown",)):
                snf("overlay", *args)
            assert node.ns(ns, "ip", "-o", "link").stdout == links, device
