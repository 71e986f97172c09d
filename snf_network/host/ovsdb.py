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

JSON without the json module: it imports re and costs the NIC programs more
than this whole exchange (``_json``'s C scanner and string encoder do the
work). Every value written is validated before (interface names, MACs,
UUIDs, instance names) and encoded here, never interpolated.
"""

from __future__ import annotations

import _json
import _socket
import os
import time

from snf_network.errors import SnfNetworkError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from typing import Any, ClassVar

    from snf_network.config import Config
    from snf_network.host import Host
    from snf_network.plan import OvsPort

DEFAULT_RUNDIR = "/var/run/openvswitch"  # where OVS's tools look without OVS_RUNDIR in their environment


class _Context:
    """What ``_json.make_scanner`` reads from a decoder (json.decoder.JSONDecoder's attributes)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    memo: ClassVar[dict[str, str]] = {}
    parse_float = float
    parse_int = int

    @staticmethod
    def parse_constant(name: str) -> float:
        raise ValueError(f"{name} in OVSDB's answer")


_scan = _json.make_scanner(_Context())  # type: ignore[arg-type]  # duck-typed: it reads the attributes above


def dumps(value: Any) -> str:
    """JSON of dicts, lists, tuples, strings, integers, booleans and None."""
    if isinstance(value, str):
        return str(_json.encode_basestring_ascii(value))
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(dumps(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{dumps(str(key))}:{dumps(item)}" for key, item in value.items()) + "}"
    raise TypeError(f"cannot encode {type(value).__name__} for OVSDB")


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
            text = self.buffer.lstrip()
            if text:
                try:
                    message, end = _scan(text, 0)
                except StopIteration:
                    message = None  # incomplete: read more
                else:
                    self.buffer = text[end:]
                    if not isinstance(message, dict):
                        raise SnfNetworkError("ovsdb-server sent something that is not JSON-RPC")
                    return message
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise SnfNetworkError(f"timed out after {self.timeout:g} s waiting for {what}")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                raise SnfNetworkError(f"timed out after {self.timeout:g} s waiting for {what}") from None
            if not data:
                raise SnfNetworkError("ovsdb-server closed the connection")
            self.buffer = text + data.decode()


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


def set_ports(host: Host, cfg: Config, ports: list[OvsPort], old_ports: list[OvsPort]) -> bool:
    """Make ``ports`` so in one transaction and wait for ovs-vswitchd; False: left to ovs-vsctl, nothing done."""
    from snf_network.host.ovs import interface_ids, port_ids

    wanted = {item.port for item in ports}
    if not ports or any(item.rate for item in ports + old_ports) or \
            any(item.port not in wanted for item in old_ports) or len(wanted) != len(ports):
        return False
    path = db_socket(cfg)
    sock = host.unix_stream(path) if path else None
    if sock is None:
        return False
    session = Session(sock, max(1.0, cfg.COMMAND_TIMEOUT))
    try:
        switches = sorted({item.switch for item in ports})
        reads = [{"op": "select", "table": "Bridge", "where": [["name", "==", name]], "columns": ["_uuid", "ports"]}
                 for name in switches]
        reads += [{"op": "select", "table": "Port", "where": [["name", "==", item.port]], "columns": ["_uuid"]}
                  for item in ports]
        reads += [{"op": "select", "table": "Interface", "where": [["name", "==", item.port]], "columns": ["_uuid"]}
                  for item in ports]
        found = session.transact(reads)
        bridges: dict[str, tuple[str, set[str]]] = {}
        for name, result in zip(switches, found[:len(switches)], strict=True):
            if len(result["rows"]) != 1:
                return False  # no such switch: ovs-vsctl says so in its words
            row = result["rows"][0]
            bridges[name] = (row["_uuid"][1], {member[1] for member in _set(row["ports"])})
        port_rows = [result["rows"] for result in found[len(switches):len(switches) + len(ports)]]
        interface_rows = [result["rows"] for result in found[len(switches) + len(ports):]]
        operations: list[dict[str, Any]] = []
        for number, (item, port_row, interface_row) in enumerate(zip(ports, port_rows, interface_rows, strict=True)):
            rate, burst = 0, 0  # no limits on this path (see above): none left either
            columns = {"tag": item.tag or _empty(),
                       "trunks": ["set", [int(vid) for vid in item.trunks.split(",")]] if item.trunks else _empty(),
                       "vlan_mode": item.vlan_mode or _empty(), "qos": _empty()}
            interface = {"ingress_policing_rate": rate, "ingress_policing_burst": burst}
            if not port_row:
                if interface_row:
                    return False  # an Interface row without its Port: not what ovs-vsctl would expect either
                operations += [
                    {"op": "insert", "table": "Interface", "uuid-name": f"interface{number}",
                     "row": {"name": item.port, **interface,
                             "external_ids": ["map", [list(pair) for pair in interface_ids(item)]]}},
                    {"op": "insert", "table": "Port", "uuid-name": f"port{number}",
                     "row": {"name": item.port, "interfaces": ["named-uuid", f"interface{number}"], **columns,
                             "external_ids": ["map", [list(pair) for pair in port_ids(item)]]}},
                    {"op": "mutate", "table": "Bridge", "where": [["_uuid", "==", _uuid(bridges[item.switch][0])]],
                     "mutations": [["ports", "insert", ["set", [["named-uuid", f"port{number}"]]]]]},
                ]
                continue
            port_uuid = port_row[0]["_uuid"][1]
            if port_uuid not in bridges[item.switch][1] or len(interface_row) != 1:
                return False  # on another switch: ovs-vsctl deletes and adds it again
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
        try:
            results = session.transact(operations)
        except TransactionError as error:
            if error.error == "constraint violation":
                return False  # someone added a port of that name between our read and our write
            raise
        rows = results[-1]["rows"]
        if rows:  # an Open_vSwitch row: ovs-vswitchd reads it (without one, there is nothing to wait for)
            session.wait_applied(int(rows[0]["next_cfg"]))
        return True
    except OSError as error:
        raise SnfNetworkError(f"ovsdb-server at {path}: {error.strerror or error}") from None
    finally:
        session.close()


def _set(value: Any) -> list[Any]:
    """An OVSDB set's members: ["set", [...]] or a lone atom."""
    if isinstance(value, list) and value and value[0] == "set":
        return list(value[1])
    return [value]
