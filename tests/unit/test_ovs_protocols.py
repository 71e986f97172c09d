"""The NIC programs' own OVSDB and OpenFlow 1.3 encodings (real Open vSwitch: tests/kernel/test_openvswitch.py)."""

from __future__ import annotations

import socket
import struct
import threading

import pytest

from snf_network import config, jsonlite
from snf_network.errors import SnfNetworkError
from snf_network.host import Host, openflow, ovsdb
from snf_network.host.ovs import cookie, flow_script
from snf_network.plan import OvsFlows, OvsPort
from tests.unit.hosts import RecordingHost

MAC = "aa:00:00:12:34:56"
GUARDS = [
    OvsFlows("br0", "tap3", cookie("tap3"), MAC, ip4="192.0.2.10"),
    OvsFlows("br0", "tap4", cookie("tap4"), MAC, ip4="192.0.2.11",
             ip6="fe80::a800:ff:fe12:3456,2001:db8:1:0:a800:ff:fe12:3456"),
    OvsFlows("br0", "tap5", cookie("tap5"), MAC, any4=True, any6=True),
    OvsFlows("br0", "tap6", cookie("tap6"), MAC, ip6="2001:db8:1::5"),
]
PORTS = {"tap3": 3, "tap4": 4, "tap5": 5, "tap6": 6}


@pytest.mark.parametrize("guard", GUARDS, ids=lambda guard: guard.port)
def test_every_flow_we_write_becomes_a_well_formed_flow_mod(guard: OvsFlows) -> None:
    script = flow_script([guard], [GUARDS[0]] if guard is not GUARDS[0] else [])
    messages = openflow.flow_mods(script, PORTS, first_xid=2)
    assert len(messages) == len(script.splitlines())
    for xid, message in enumerate(messages, start=2):
        version, kind, length, number = struct.unpack_from("!BBHI", message)
        assert (version, kind, length, number) == (4, openflow.FLOW_MOD, len(message), xid)
        assert length % 8 == 0
        command, priority = message[25], struct.unpack_from("!H", message, 30)[0]
        match_type, match_length = struct.unpack_from("!HH", message, 48)
        assert match_type == 1 and match_length >= 4
        if command == openflow.DELETE:
            assert message[24] == openflow.ALL_TABLES and match_length == 4
        else:
            assert command == openflow.ADD and priority > 0
            in_port = struct.unpack_from("!HBBI", message, 52)
            assert in_port == (0x8000, 0, 4, PORTS[guard.port])  # OXM in_port comes first


def test_a_flow_mod_is_byte_for_byte_what_openflow_13_says() -> None:
    [message] = openflow.flow_mods('add priority=110,cookie=0x736e660000000001,in_port="tap3",udp,tp_dst=68,'
                                   "actions=NORMAL", PORTS)
    match = (struct.pack("!HH", 1, 4 + 8 + 6 + 5 + 6)  # OFPMT_OXM: in_port, eth_type, ip_proto, udp_dst
             + struct.pack("!HBBI", 0x8000, 0 << 1, 4, 3) + struct.pack("!HBBH", 0x8000, 5 << 1, 2, 0x0800)
             + struct.pack("!HBBB", 0x8000, 10 << 1, 1, 17) + struct.pack("!HBBH", 0x8000, 16 << 1, 2, 68))
    match += b"\0" * (-len(match) % 8)
    actions = struct.pack("!HH4x", 4, 24) + struct.pack("!HHIH6x", 0, 16, 0xFFFFFFFA, 0xFFFF)
    body = struct.pack("!QQBBHHHIIIH2x", 0x736E660000000001, 0, 0, 0, 0, 0, 110, 0xFFFFFFFF, 0xFFFFFFFF,
                       0xFFFFFFFF, 0) + match + actions
    assert message == struct.pack("!BBHI", 4, 14, 8 + len(body), 1) + body


def test_a_delete_by_cookie_masks_what_it_was_given() -> None:
    [everything, masked] = openflow.flow_mods("delete cookie=0x736e660000000001/-1\n"
                                              "delete cookie=0x736e660000000001/0xffffff7fffffffff\n", {})
    assert struct.unpack_from("!QQ", everything, 8) == (0x736E660000000001, (1 << 64) - 1)
    assert struct.unpack_from("!QQ", masked, 8) == (0x736E660000000001, 0xFFFFFF7FFFFFFFFF)


@pytest.mark.parametrize("line", [
    "add priority=1,cookie=0x1,tcp,actions=NORMAL",  # a protocol we never write
    "add priority=1,cookie=0x1,udp,tp_dst=68,actions=output:3",  # an action we never write
    "add priority=1,cookie=0x1,ip,tp_dst=68,actions=drop",  # a port without its protocol
    "add cookie=0x1,ip,actions=drop",  # no priority
    "modify priority=1,cookie=0x1,ip,actions=drop",
])
def test_a_word_we_do_not_write_is_refused_before_anything_is_sent(line: str) -> None:
    with pytest.raises(ValueError):
        openflow.flow_mods(line, PORTS)


def test_a_port_the_switch_does_not_have_is_one_line() -> None:
    with pytest.raises(SnfNetworkError, match="tap9: not a port of the switch"):
        openflow.flow_mods('add priority=1,cookie=0x1,in_port="tap9",actions=drop', PORTS)


def test_json_for_ovsdb_without_the_json_module() -> None:
    value = {"method": "transact", "params": ["Open_vSwitch", {"row": {"name": 'ta"p\\3', "tag": 100,
                                                                       "on": True, "off": None}}], "id": 1}
    text = jsonlite.dumps(value)
    assert jsonlite.loads(text) == value
    with pytest.raises(TypeError):
        jsonlite.dumps({"x": 1.5})
    with pytest.raises(ValueError, match="more than one"):
        jsonlite.loads("{} {}")
    # Every cut of a document like nft -j's is one ValueError (the C scanner raises three kinds).
    document = jsonlite.dumps({"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
                                            {"table": {"family": "inet", "name": "snf", "handle": 3}},
                                            {"chain": {"name": "in \"é\"", "hook": "input", "prio": -10}}]})
    for cut in range(len(document)):
        with pytest.raises(ValueError):
            jsonlite.loads(document[:cut])
        assert jsonlite.complete(document[:cut]) == 0
    assert jsonlite.complete(document + '{"next"') == len(document)


PORT = OvsPort("br0", "tap3", tag=100, vlan_mode="access", instance="vm1.example.org", nic="u-1", mac=MAC)


def test_without_a_database_socket_or_with_limits_ovs_vsctl_does_the_work() -> None:
    cfg = config.from_text("OVS_DB=/run/test/db.sock\n")
    assert ovsdb.prepare(RecordingHost(), cfg, [PORT], []) is None  # nothing listens there
    limited = OvsPort("br0", "tap3", instance="vm1.example.org", nic="u-1", mac=MAC, rate=20_000_000)
    assert ovsdb.prepare(Host(), cfg, [limited], []) is None
    assert ovsdb.prepare(Host(), config.from_text("OVS_DB=tcp:127.0.0.1:6640\n"), [PORT], []) is None
    assert ovsdb.db_socket(config.from_text("OVS_DB=unix:/x/db.sock\n")) == "/x/db.sock"


class FakeDatabase:
    """A unix socket that answers like ovsdb-server for one NIC: tap3 new on br0, applied at once."""

    def __init__(self, path: str, bridges: int = 1, dribble: bool = False) -> None:
        self.requests: list[dict[str, object]] = []
        self.bridges, self.dribble = bridges, dribble
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(1)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.thread.join(timeout=5)
        self.server.close()

    def serve(self) -> None:
        connection, _ = self.server.accept()
        with connection:
            self.exchange(connection)

    def exchange(self, connection: socket.socket) -> None:
        buffer = ""
        while True:
            data = connection.recv(65536)
            if not data:
                return
            buffer += data.decode()
            while jsonlite.complete(buffer):
                end = jsonlite.complete(buffer)
                request, buffer = jsonlite.loads(buffer[:end]), buffer[end:]
                self.requests.append(request)
                reply = jsonlite.dumps({"id": request["id"], "error": None, "result": self.answer(request)}).encode()
                if self.dribble:  # a byte at a time: every message cut everywhere, "é" between its two bytes
                    for index in range(len(reply)):
                        connection.sendall(reply[index:index + 1])
                else:
                    connection.sendall(reply)

    def answer(self, request: dict[str, object]) -> object:
        params = request["params"]
        assert isinstance(params, list)
        if request["method"] == "monitor":
            return {"Open_vSwitch": {"row": {"new": {"cur_cfg": 7}}}}
        operations = params[1:]
        if operations[0]["op"] == "select" and operations[0]["table"] == "Bridge":
            # The read: br0, no port of that name yet, and two interfaces numbered 1 and 65279.
            return [{"rows": [{"_uuid": ["uuid", "b-1"], "ports": ["set", []], "note": "a } \\\" { é"}] * self.bridges},
                    {"rows": []}, {"rows": []},
                    {"rows": [{"ofport": 1, "ofport_request": ["set", []]}, {"ofport": 65279, "ofport_request": 9}]}]
        if operations[0]["op"] == "select":  # after the wait: the number the switch gave
            return [{"rows": [{"ofport": 65278}]}]
        return [{} for _ in operations[:-1]] + [{"rows": [{"next_cfg": 7}]}]


@pytest.mark.parametrize("dribble", [False, True])
def test_a_new_port_is_inserted_with_its_columns_and_waited_for(tmp_path: object, dribble: bool) -> None:
    path = f"{tmp_path}/db.sock"
    database = FakeDatabase(path, dribble=dribble)
    cfg = config.from_text(f"OVS_DB={path}\n")
    prepared = ovsdb.prepare(Host(), cfg, [PORT], [])
    assert prepared is not None and prepared.numbers == {"tap3": 65278}  # the highest number nobody has
    assert prepared.commit() == {"tap3": 65278}
    prepared.close()
    database.close()
    _, write, monitor, _ = database.requests
    operations = write["params"][1:]  # type: ignore[index]
    interface, port, bridge, bump, _ = operations
    assert interface["row"]["name"] == "tap3" and ["attached-mac", MAC] in interface["row"]["external_ids"][1]
    assert interface["row"]["ofport_request"] == 65278
    assert port["row"]["tag"] == 100 and port["row"]["vlan_mode"] == "access"
    assert port["row"]["interfaces"] == ["named-uuid", "interface0"]
    assert ["snf-network-instance", "vm1.example.org"] in port["row"]["external_ids"][1]
    assert bridge["mutations"] == [["ports", "insert", ["set", [["named-uuid", "port0"]]]]]
    assert bump["mutations"] == [["next_cfg", "+=", 1]]
    assert monitor["method"] == "monitor"


def test_a_switch_ovsdb_does_not_have_is_left_for_ovs_vsctl_to_say_so(tmp_path: object) -> None:
    path = f"{tmp_path}/db.sock"
    database = FakeDatabase(path, bridges=0)
    assert ovsdb.prepare(Host(), config.from_text(f"OVS_DB={path}\n"), [PORT], []) is None
    database.close()
    assert len(database.requests) == 1  # the read, and nothing written


@pytest.mark.parametrize(("version", "hello", "speaks"), [
    (6, b"", True),  # no bitmap: every version up to its own
    (1, b"", False),
    (6, struct.pack("!HHI", 1, 8, 1 << 1 | 1 << 5), False),  # protocols=OpenFlow10,OpenFlow14
    (6, struct.pack("!HHI", 1, 8, 1 << 1 | 1 << 4 | 1 << 6), True),
])
def test_openflow_13_is_used_only_when_the_switch_offers_it(version: int, hello: bytes, speaks: bool) -> None:
    assert openflow.speaks_13(version, hello) is speaks


class FakeSwitch:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, int] | None]] = []

    def send(self, script: str, ports: dict[str, int] | None = None) -> bool:
        self.calls.append(("send", script, ports))
        return True

    def finish(self) -> None:
        self.calls.append(("finish", "", None))

    def push(self, script: str) -> bool:
        self.calls.append(("push", script, None))
        return True

    def close(self) -> None:
        pass


class FakePrepared:
    def __init__(self, given: int) -> None:
        self.numbers = {"tap3": 65279}
        self.fresh = {"tap3"}  # a new port
        self.given = given

    def commit(self) -> dict[str, int]:
        return {"tap3": self.given}

    def close(self) -> None:
        pass


@pytest.mark.parametrize("given", [65279, 5])
def test_a_new_ports_flows_go_first_and_again_by_name_if_the_switch_numbered_it_otherwise(
        monkeypatch: pytest.MonkeyPatch, given: int) -> None:
    from snf_network.host.ovs import BACKEND, cookie_match

    switch = FakeSwitch()
    monkeypatch.setattr(openflow.Switch, "connect", classmethod(lambda cls, host, path, timeout: switch))
    monkeypatch.setattr(ovsdb, "prepare", lambda host, cfg, ports, old: FakePrepared(given))
    BACKEND.apply(RecordingHost(), config.from_text(""), [PORT, GUARDS[0]], [])
    script = flow_script([GUARDS[0]], [])
    # First, whatever flows of ours are on that number (a port deleted behind our back) or of this tap.
    cleared = ("delete cookie=0x736e660000000000/0xffffff0000000000,in_port=65279\n"
               f"delete {cookie_match(GUARDS[0].cookie)}\n")
    expected = [("send", cleared + script, {"tap3": 65279}), ("finish", "", None)]
    if given != 65279:  # deleted under the port's cookie, then by name
        expected += [("push", f"delete {cookie_match(GUARDS[0].cookie)}\n", None), ("push", script, None)]
    messages = openflow.flow_mods(cleared, {})
    assert struct.unpack_from("!QQ", messages[0], 8) == (0x736E66 << 40, 0xFFFFFF << 40)
    assert struct.unpack_from("!HBBI", messages[0], 52) == (0x8000, 0, 4, 65279)  # by port: in_port=65279
    assert switch.calls == expected
