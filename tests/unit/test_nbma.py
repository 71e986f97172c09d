"""The NBMA overlay's pure parts: its configuration, the peer protocol's checks, the backends' addresses."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from snf_network.errors import ConfigError
from snf_network.nld import protocol
from snf_network.overlay import backends, config
from snf_network.overlay.setup import nft_ruleset

# The original ganeti-nbma examples (its common.conf and endpoint.conf).
COMMON = """\
# common.conf
FORWARDING_GRE_ONLY=yes
GRE_BASE_NETDEV=eth0
"""
ENDPOINT = """\
GRE_INTERFACE=gtun0
GRE_KEY=1
GRE_TTL=255
INSTANCE_NETWORK=192.168.42.0/24
ENDPOINT_INTERNAL_IP="192.168.42.254"
ENDPOINT_EXTERNAL_IP='172.16.1.3'
ENDPOINT_NETDEV=eth0
DIRECTROUTES=(192.168.43.0/24 192.168.44.0/24)
NBMAROUTES=(default)
ROUTING_TABLE=100
NFLOG_QUEUE=0
CLUSTER_NAME=c'ia'o
"""


def write(tmp_path: Path, main: str, **overlays: str) -> Path:
    (tmp_path / "overlays").mkdir()
    (tmp_path / "nbma.conf").write_text(main)
    for name, text in overlays.items():
        (tmp_path / "overlays" / f"{name}.conf").write_text(text)
    return tmp_path


def test_the_original_files_parse_with_their_documented_values(tmp_path: Path) -> None:
    values = config.parse_fragment(COMMON + ENDPOINT, "x")
    assert values["FORWARDING_OVERLAY_ONLY"] == "yes" and values["BASE_NETDEV"] == "eth0"
    assert values["DIRECTROUTES"] == ["192.168.43.0/24", "192.168.44.0/24"]
    assert values["CLUSTER_NAME"] == "ciao"
    ov = config.build_overlay("public", {k: v for k, v in values.items() if k != "FORWARDING_OVERLAY_ONLY"},
                              "x", gre=True)
    assert (ov.backend, ov.device, ov.key, ov.ttl, ov.table, ov.nflog_group) == ("gre", "gtun0", 1, 255, "100", 0)
    assert [(e.internal, e.external) for e in ov.endpoints] == [("192.168.42.254", "172.16.1.3")]
    assert ov.nbmaroutes == ["default"]


def test_the_backend_defaults_to_gre_only_where_the_kernel_has_it() -> None:
    raw = config.parse_fragment("INSTANCE_NETWORK=192.0.2.0/24\n", "x")
    assert config.build_overlay("o", raw, "x", gre=False).device == "vx42"
    assert config.build_overlay("o", raw, "x", gre=True).device == "gtun0"


@pytest.mark.parametrize("line, message", [
    ("INSTANCE_NETWORK=$(reboot)", "not allowed"),
    ("INSTANCE_NETWORK=`reboot`", "not allowed"),
    ("INSTANCE_NETWORK=192.0.2.0/24; reboot", "not allowed"),
    ("DIRECTROUTES=(192.0.2.0/24", "closed"),
    ("OVERLAY_BACKEND=ipip", "gre or vxlan"),
    ("VXLAN_VNI=16777216", "from 1 to"),
    ("SOMETHING=1", "unknown key"),
    ("ROUTING_TABLE=254", "table number"),
    ("ROUTING_TABLE=0100", "no leading zero"),  # ip would take table 64, the daemon 100
    ("ROUTING_TABLE=0", "table number"),
    ("\u00c9T\u00c9=1", "expected KEY=value"),  # a shell name is ASCII (checks.is_key)
    ("ENDPOINT_INTERNAL_IP=198.51.100.1\nENDPOINT_EXTERNAL_IP=198.51.100.2", "not in INSTANCE_NETWORK"),
    ("NBMAROUTES=(default)", "needs an endpoint"),
    ("OVERLAY_INTERFACE=all", "interface name"),
    ("VXLAN_VNI=\u00b2", "from 1 to"),  # a digit to str.isdigit, not to int(): was a traceback
    ("ROUTING_TABLE=\u0661\u0660\u0660", "table number"),  # Arabic-Indic 100: int() takes it, ip does not
])
def test_bad_values_are_one_line_errors(tmp_path: Path, line: str, message: str) -> None:
    text = "INSTANCE_NETWORK=192.0.2.0/24\n" + line + "\n" if "INSTANCE_NETWORK" not in line.split("=")[0] \
        else line + "\n"
    write(tmp_path, "", public=text)
    with pytest.raises(ConfigError, match=message) as caught:
        config.load(str(tmp_path), gre=False)
    assert "\n" not in str(caught.value)


def test_overlays_are_self_contained_and_may_not_collide(tmp_path: Path) -> None:
    write(tmp_path, "PEERS=(198.51.100.2 198.51.100.3)\nSNAPSHOT_INTERVAL=10\n",
          one="VXLAN_VNI=42\nINSTANCE_NETWORK=192.0.2.0/24\nNFLOG_GROUP=5\n",
          two="VXLAN_VNI=43\nINSTANCE_NETWORK=198.51.100.0/24\nROUTING_TABLE=101\nNFLOG_GROUP=6\n")
    cfg = config.load(str(tmp_path), gre=False)
    assert [(o.name, o.device, o.table, o.nflog_group) for o in cfg.overlays] == [
        ("one", "vx42", "100", 5), ("two", "vx43", "101", 6)]
    assert cfg.snapshot_interval == 10 and cfg.all_peers()[:2] == ["198.51.100.2", "198.51.100.3"]
    (tmp_path / "overlays" / "two.conf").write_text("VXLAN_VNI=43\nINSTANCE_NETWORK=198.51.100.0/24\n")
    with pytest.raises(ConfigError, match="both use table 100"):
        config.load(str(tmp_path), gre=False)


def test_node_macs_round_trip() -> None:
    assert backends.mac_of("10.0.1.2") == "02:00:0a:00:01:02"
    assert backends.node_of_mac("02:00:0a:00:01:02") == "10.0.1.2"
    assert backends.node_of_mac("aa:00:0a:00:01:02") is None
    assert backends.node_of_mac("ff:ff:ff:ff:ff:ff") is None
    gre = config.build_overlay("g", {"INSTANCE_NETWORK": "192.0.2.0/24"}, "x", gre=True)
    assert backends.lladdr_for(gre, "198.51.100.6") == "198.51.100.6"
    assert backends.node_for(gre, "198.51.100.6") == backends.node_for(gre, "c6:33:64:06") == "198.51.100.6"


def test_the_firewall_admits_only_peers(tmp_path: Path) -> None:
    write(tmp_path, "", public="OVERLAY_BACKEND=vxlan\nINSTANCE_NETWORK=192.0.2.0/24\n")
    cfg = config.load(str(tmp_path))
    ruleset = nft_ruleset(cfg, ["198.51.100.6", "198.51.100.10"])
    assert "elements = { 198.51.100.6, 198.51.100.10 }" in ruleset
    assert "udp dport 4789 ip saddr != @peers4 counter drop" in ruleset
    assert "udp dport 1816 ip saddr != @peers4 counter drop" in ruleset
    assert nft_ruleset(cfg, ["198.51.100.6"]) != ruleset  # the comment's digest follows the content


KEY = b"k" * 32
PEERS = {"198.51.100.6"}


def opener(now: float = 1_000_000.0) -> protocol.Opener:
    return protocol.Opener(KEY, 60, clock=lambda: now)


def sealed(message: dict[str, object] | None = None, src: str = "198.51.100.6", now: float = 1_000_000.0,
           key: bytes = KEY) -> bytes:
    return protocol.seal(key, message or {"type": "query", "ov": 42, "ips": ["192.0.2.1"]}, src, lambda: now)


def test_a_sealed_datagram_opens_once() -> None:
    o = opener()
    data = sealed()
    message = o.open(data, "198.51.100.6", PEERS)
    assert message is not None and message["type"] == "query" and message["src"] == "198.51.100.6"
    assert o.open(data, "198.51.100.6", PEERS) is None
    assert o.counters["replayed"] == 1 and o.counters["accepted"] == 1


@pytest.mark.parametrize("data, source, counter", [
    (b"XXXX" + bytes(60), "198.51.100.6", "bad_magic"),
    (sealed(key=b"x" * 32), "198.51.100.6", "bad_hmac"),
    (sealed()[:-1] + b"!", "198.51.100.6", "bad_hmac"),
    (sealed(now=1_000_000.0 - 61), "198.51.100.6", "clock_skew"),
    (sealed(now=1_000_000.0 + 61), "198.51.100.6", "clock_skew"),
    (sealed(src="198.51.100.7"), "198.51.100.6", "not_a_peer"),
    (sealed(), "198.51.100.7", "not_a_peer"),
    (sealed({"type": "x" * 2000}), "198.51.100.6", "too_long"),
    (sealed({"type": "reboot"}), "198.51.100.6", "malformed"),
])
def test_bad_datagrams_are_refused_and_counted(data: bytes, source: str, counter: str) -> None:
    o = opener()
    assert o.open(data, source, PEERS) is None
    assert o.counters[counter] == 1 and o.counters["accepted"] == 0


def test_the_replay_cache_is_bounded_and_forgets_only_what_the_skew_refuses() -> None:
    now = [1_000_000.0]
    o = protocol.Opener(KEY, 60, clock=lambda: now[0], cache_size=10)
    old = sealed()
    assert o.open(old, "198.51.100.6", PEERS) is not None
    for _ in range(20):
        assert o.open(sealed(), "198.51.100.6", PEERS) is not None
    assert len(o.seen) == 10
    now[0] += 121  # the nonce is forgotten, but the timestamp is now refused
    assert o.open(old, "198.51.100.6", PEERS) is None and o.counters["clock_skew"] == 1


def test_a_datagram_sealed_for_one_peer_is_refused_by_another() -> None:
    # A capture of what B sent C, replayed to A from B's address: A's replay cache never saw it.
    a = protocol.Opener(KEY, 60, clock=lambda: 1_000_000.0, me="198.51.100.2")
    for_c = protocol.seal(KEY, {"type": "sync"}, "198.51.100.6", lambda: 1_000_000.0, dst="198.51.100.3")
    assert a.open(for_c, "198.51.100.6", PEERS) is None and a.counters["not_for_us"] == 1
    for_a = protocol.seal(KEY, {"type": "sync"}, "198.51.100.6", lambda: 1_000_000.0, dst="198.51.100.2")
    assert a.open(for_a, "198.51.100.6", PEERS) is not None


def test_what_was_sealed_before_the_daemon_started_is_refused() -> None:
    # The replay cache is lost at a restart: a capture from just before it is within the skew, not in the cache.
    now = [1_000_000.0]
    captured = sealed(now=now[0] - 10)
    o = protocol.Opener(KEY, 60, clock=lambda: now[0])
    assert o.open(captured, "198.51.100.6", PEERS) is None and o.counters["replayed"] == 1
    assert o.open(sealed(now=now[0] - 0.5), "198.51.100.6", PEERS) is not None  # clocks differ a little
    now[0] += 5
    assert o.open(sealed(now=now[0] - 4), "198.51.100.6", PEERS) is not None  # once running, the skew rules


def test_an_absurd_timestamp_is_refused_not_raised() -> None:
    import hashlib
    import hmac

    body = b'{"type":"sync","ts":1' + b"0" * 400 + b',"nonce":"n","src":"198.51.100.6","dst":""}'
    data = protocol.MAGIC + hmac.new(KEY, protocol.MAGIC + body, hashlib.sha256).digest() + body
    o = opener()
    assert o.open(data, "198.51.100.6", PEERS) is None and o.counters["clock_skew"] == 1


def test_batches_fit_one_datagram() -> None:
    entries: list[dict[str, object]] = [{"ip": f"192.0.2.{i}", "node": "198.51.100.100",
                                         "ver": [int(time.time() * 1000), "198.51.100.100"], "up": True}
                                        for i in range(200)]
    for group in protocol.batches(entries):
        data = protocol.seal(KEY, {"type": "snapshot", "ov": 16777215, "entries": group}, "198.51.100.100")
        assert len(data) <= protocol.MAX_DATAGRAM
