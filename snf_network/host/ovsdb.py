"""A NIC's Open vSwitch port in one OVSDB transaction, spoken over the database's unix socket.

ovs-vsctl is a fine tool and a slow one for this: before any command it
loads every Bridge, Port and Interface row into its cache (12 ms with 100
ports here, 76 ms with 1000), and it is a process of its own. A NIC needs
two round trips: read its switch's row and the port's, then write the port
(insert, or update what we own of it), bump ``next_cfg`` and wait until
ovs-vswitchd reports it in ``cur_cfg``, as ``ovs-vsctl`` waits. bench/ovs.py
measures both.

This path does only what it can do exactly as ovs-vsctl would: a port new
to its switch, or already on it. Anything else (a port on another switch,
an old port of another name to delete, bandwidth limits with their QoS
rows, a remote that is not a unix socket, no socket at all) returns False
before writing anything, and host/ovs.py runs its ovs-vsctl transaction,
whose messages the operator knows.

JSON by snf_network/jsonlite.py: the json module imports re and costs the
NIC programs more than this whole exchange. Every value written is validated before (interface names, MACs,
UUIDs, instance names) and encoded here, never interpolated.
"""

from __future__ import annotations

import _socket
import codecs
import os
import time

from snf_network.errors import SnfNetworkError
from snf_network.jsonlite import complete, dumps, loads

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from typing import Any

    from snf_network.config import Config
    from snf_network.host import Host
    from snf_network.plan import OvsPort

DEFAULT_RUNDIR = "/var/run/openvswitch"  # where OVS's tools look without OVS_RUNDIR in their environment


def db_socket(cfg: Config) -> str:
    """The database's unix socket as ovs-vsctl would find it; "" for a tcp: or ssl: remote."""
    if not cfg.OVS_DB:
        return f"{os.environ.get('OVS_RUNDIR') or DEFAULT_RUNDIR}/db.sock"
    return cfg.OVS_DB[len("unix:"):] if cfg.OVS_DB.startswith("unix:") else ""


class Session:
    """One JSON-RPC connection to ovsdb-server, every wait bounded by ``timeout`` seconds in all."""

    def __init__(self, sock: _socket.socket, timeout: float) -> None:
        self.sock = sock
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.buffer = ""
        self.decoder = codecs.getincrementaldecoder("utf-8")()  # a character may be cut between two reads
        self.serial = 0

    def close(self) -> None:
        self.sock.close()

    def request(self, method: str, params: list[Any]) -> Any:
        self.serial += 1
        self.sock.sendall(dumps({"method": method, "params": params, "id": self.serial}).encode())
        reply = self._until(lambda message: message.get("id") == self.serial)
        if reply.get("error") is not None:
            raise SnfNetworkError(f"ovsdb-server refused {method}: {reply['error']}")
        return reply["result"]

    def transact(self, operations: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The operations' results; an error in any (the whole transaction is then undone) raises."""
        results: list[dict[str, Any]] = self.request("transact", ["Open_vSwitch", *operations])
        for result in results:
            if result and "error" in result:
                raise TransactionError(str(result.get("error")), str(result.get("details", "")))
        return results

    def wait_applied(self, next_cfg: int) -> None:
        """Until ovs-vswitchd has applied the database up to ``next_cfg`` (what ovs-vsctl waits for)."""
        initial = self.request("monitor", ["Open_vSwitch", "cfg", {"Open_vSwitch": {"columns": ["cur_cfg"]}}])
        if _cur_cfg(initial) >= next_cfg:
            return
        self._until(lambda message: message.get("method") == "update" and _cur_cfg(message["params"][1]) >= next_cfg,
                    what="ovs-vswitchd to apply the port")

    def _until(self, wanted: Any, what: str = "ovsdb-server") -> dict[str, Any]:
        while True:
            message = self._message(what)
            if message.get("method") == "echo":  # the server's keepalive: answered, or it hangs up
                self.sock.sendall(dumps({"id": message.get("id"), "result": message.get("params")}).encode())
            elif wanted(message):
                return message

    def _message(self, what: str) -> dict[str, Any]:
        while True:
            self.buffer = self.buffer.lstrip()
            end = complete(self.buffer)
            if end:
                text, self.buffer = self.buffer[:end], self.buffer[end:]
                try:
                    message = loads(text)
                except ValueError:
                    message = None
                if not isinstance(message, dict):
                    raise SnfNetworkError("ovsdb-server sent something that is not JSON-RPC")
                return message
            if self.buffer and self.buffer[0] not in "{[":
                raise SnfNetworkError("ovsdb-server sent something that is not JSON-RPC")
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise SnfNetworkError(f"timed out after {self.timeout:g} s waiting for {what}")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(262144)
            except TimeoutError:
                raise SnfNetworkError(f"timed out after {self.timeout:g} s waiting for {what}") from None
            if not data:
                raise SnfNetworkError("ovsdb-server closed the connection")
            self.buffer += self.decoder.decode(data)


class TransactionError(SnfNetworkError):
    def __init__(self, error: str, details: str) -> None:
        self.error = error
        super().__init__(f"ovsdb-server refused the port's transaction: {error}{f' ({details})' if details else ''}")


def _cur_cfg(update: dict[str, Any]) -> int:
    rows = update.get("Open_vSwitch", {})
    for row in rows.values():
        value = row.get("new", {}).get("cur_cfg", 0)
        return value if isinstance(value, int) else 0
    return 0


def _uuid(value: str) -> list[str]:
    return ["uuid", value]


def _empty() -> list[Any]:
    return ["set", []]


def _ids_mutations(table: str, row_uuid: str, ids: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Set these external_ids keys and keep the others (``ovs-vsctl set T R external_ids:k=v``)."""
    where = [["_uuid", "==", _uuid(row_uuid)]]
    return [{"op": "mutate", "table": table, "where": where,
             "mutations": [["external_ids", "delete", ["set", [key for key, _ in ids]]]]},
            {"op": "mutate", "table": table, "where": where,
             "mutations": [["external_ids", "insert", ["map", [list(pair) for pair in ids]]]]}]


MAX_OFPORT = 65279  # the highest OpenFlow port number a port may ask for (OFPP_MAX - 1)


class PortTransaction:
    """A NIC's ports, read (``prepare``), then written and waited for (``commit``).

    Between the two, ``numbers`` holds the OpenFlow port number each port
    will have: its own if it is already on the switch, else the highest free
    one (ovs-vswitchd numbers ports it chooses upwards from 1, so a port
    someone adds meanwhile does not take ours), asked for in
    ``ofport_request``. host/ovs.py sends the port's flows for that number
    before the port exists, and ``commit`` says which numbers the switch
    did give. ``fresh``: the ports whose number is not the one they have now
    (none yet, or none while ovs-vswitchd has not re-added a tap).
    """

    def __init__(self, session: Session, path: str, ports: list[OvsPort], operations: list[dict[str, Any]],
                 numbers: dict[str, int], fresh: set[str]) -> None:
        self.session, self.path, self.ports = session, path, ports
        self.operations, self.numbers, self.fresh = operations, numbers, fresh

    def close(self) -> None:
        self.session.close()

    def commit(self) -> dict[str, int]:
        """Write, wait for ovs-vswitchd, and return each port's OpenFlow number as the switch gave it."""
        try:
            results = self.session.transact(self.operations)
            rows = results[-1]["rows"]
            if rows:  # an Open_vSwitch row: ovs-vswitchd reads it (without one, there is nothing to wait for)
                self.session.wait_applied(int(rows[0]["next_cfg"]))
            given = self.session.transact([
                {"op": "select", "table": "Interface", "where": [["name", "==", item.port]], "columns": ["ofport"]}
                for item in self.ports])
        except OSError as error:
            raise SnfNetworkError(f"ovsdb-server at {self.path}: {error.strerror or error}") from None
        numbers = {}
        for item, result in zip(self.ports, given, strict=True):
            value = result["rows"][0]["ofport"] if result["rows"] else -1
            numbers[item.port] = value if isinstance(value, int) else -1
        return numbers


def prepare(host: Host, cfg: Config, ports: list[OvsPort], old_ports: list[OvsPort]) -> PortTransaction | None:
    """Read what ``ports`` need; None: left to ovs-vsctl (see above), nothing done."""
    from snf_network.host.ovs import interface_ids, port_ids

    wanted = {item.port for item in ports}
    if not ports or any(item.rate for item in ports + old_ports) or \
            any(item.port not in wanted for item in old_ports) or len(wanted) != len(ports):
        return None
    path = db_socket(cfg)
    sock = host.unix_stream(path) if path else None
    if sock is None:
        return None
    session = Session(sock, max(1.0, cfg.COMMAND_TIMEOUT))
    try:
        prepared = _prepare(session, path, ports, port_ids, interface_ids)
    except OSError as error:
        session.close()
        raise SnfNetworkError(f"ovsdb-server at {path}: {error.strerror or error}") from None
    except BaseException:
        session.close()
        raise
    if prepared is None:
        session.close()
    return prepared


def _prepare(session: Session, path: str, ports: list[OvsPort], port_ids: Any, interface_ids: Any
             ) -> PortTransaction | None:
    switches = sorted({item.switch for item in ports})
    reads = [{"op": "select", "table": "Bridge", "where": [["name", "==", name]], "columns": ["_uuid", "ports"]}
             for name in switches]
    reads += [{"op": "select", "table": "Port", "where": [["name", "==", item.port]], "columns": ["_uuid"]}
              for item in ports]
    reads += [{"op": "select", "table": "Interface", "where": [["name", "==", item.port]],
               "columns": ["_uuid", "ofport"]} for item in ports]
    reads.append({"op": "select", "table": "Interface", "where": [],
                  "columns": ["name", "ofport", "ofport_request"]})
    found = session.transact(reads)
    bridges: dict[str, tuple[str, set[str]]] = {}
    for name, result in zip(switches, found[:len(switches)], strict=True):
        if len(result["rows"]) != 1:
            return None  # no such switch: ovs-vsctl says so in its words
        row = result["rows"][0]
        bridges[name] = (row["_uuid"][1], {member[1] for member in _set(row["ports"])})
    port_rows = [result["rows"] for result in found[len(switches):len(switches) + len(ports)]]
    interface_rows = [result["rows"] for result in found[len(switches) + len(ports):-1]]
    names = {item.port for item in ports}
    used = {number for row in found[-1]["rows"] if row.get("name") not in names
            for column in ("ofport", "ofport_request") for number in _set(row.get(column)) if isinstance(number, int)}
    operations: list[dict[str, Any]] = []
    numbers: dict[str, int] = {}
    fresh: set[str] = set()
    for index, (item, port_row, interface_row) in enumerate(zip(ports, port_rows, interface_rows, strict=True)):
        columns = {"tag": item.tag or _empty(),
                   "trunks": ["set", [int(vid) for vid in item.trunks.split(",")]] if item.trunks else _empty(),
                   "vlan_mode": item.vlan_mode or _empty(), "qos": _empty()}
        row = interface_row[0] if len(interface_row) == 1 else {}
        # Its own number while it has one; the one it asked for before (a tap
        # that is coming back); else the highest free one, which is then
        # "fresh": flows of ours that a port removed behind our back left on
        # that number, or this tap's under another, must go first.
        own, asked = row.get("ofport"), [n for n in _set(row.get("ofport_request")) if isinstance(n, int)]
        if isinstance(own, int) and 0 < own <= MAX_OFPORT:
            number = own
        else:
            number = asked[0] if asked and 0 < asked[0] <= MAX_OFPORT and asked[0] not in used else _free(used)
            fresh.add(item.port)
        used.add(number)
        numbers[item.port] = number
        # No limits on this path (see above): none left either.
        interface = {"ingress_policing_rate": 0, "ingress_policing_burst": 0, "ofport_request": number}
        if not port_row:
            if interface_row:
                return None  # an Interface row without its Port: not what ovs-vsctl would expect either
            operations += [
                {"op": "insert", "table": "Interface", "uuid-name": f"interface{index}",
                 "row": {"name": item.port, **interface,
                         "external_ids": ["map", [list(pair) for pair in interface_ids(item)]]}},
                {"op": "insert", "table": "Port", "uuid-name": f"port{index}",
                 "row": {"name": item.port, "interfaces": ["named-uuid", f"interface{index}"], **columns,
                         "external_ids": ["map", [list(pair) for pair in port_ids(item)]]}},
                {"op": "mutate", "table": "Bridge", "where": [["_uuid", "==", _uuid(bridges[item.switch][0])]],
                 "mutations": [["ports", "insert", ["set", [["named-uuid", f"port{index}"]]]]]},
            ]
            continue
        port_uuid = port_row[0]["_uuid"][1]
        if port_uuid not in bridges[item.switch][1] or len(interface_row) != 1:
            return None  # on another switch: ovs-vsctl deletes and adds it again
        interface_uuid = interface_row[0]["_uuid"][1]
        operations += [
            {"op": "update", "table": "Port", "where": [["_uuid", "==", _uuid(port_uuid)]], "row": columns},
            *_ids_mutations("Port", port_uuid, port_ids(item)),
            {"op": "update", "table": "Interface", "where": [["_uuid", "==", _uuid(interface_uuid)]],
             "row": interface},
            *_ids_mutations("Interface", interface_uuid, interface_ids(item)),
        ]
    operations += [
        {"op": "mutate", "table": "Open_vSwitch", "where": [], "mutations": [["next_cfg", "+=", 1]]},
        {"op": "select", "table": "Open_vSwitch", "where": [], "columns": ["next_cfg"]},
    ]
    return PortTransaction(session, path, ports, operations, numbers, fresh)


def _free(used: set[int]) -> int:
    number = MAX_OFPORT
    while number in used:
        number -= 1
    if number < 1:
        raise SnfNetworkError("the switch has no OpenFlow port number left")
    return number


def _set(value: Any) -> list[Any]:
    """An OVSDB set's members: ["set", [...]] or a lone atom."""
    if isinstance(value, list) and value and value[0] == "set":
        return list(value[1])
    return [value]
