"""Open vSwitch ports and their anti-spoofing flows.

A NIC's port is one transaction, written here as ovs-vsctl's (what ``plan``
prints, and what runs when host/ovsdb.py, which speaks to the database
itself, leaves it to ovs-vsctl): ``--may-exist add-port`` with its
VLANs (tag, trunks, vlan_mode) and who owns it in ``external_ids`` (Port:
``snf-network-instance``, ``-nic``, ``-mac``; Interface: OVS's conventional
``vm-id``, ``iface-id``, ``attached-mac``), so ``ovs-vsctl list Port`` shows
whose a port is. Every column we set is set on every run: a port left under
a reused tap's name by someone else converges to ours, and a stale port of
ours (the tap's old record) is deleted in the same transaction. A port left
on another switch is deleted and added again (``--may-exist`` refuses it).

Netfilter's bridge hooks never see what OVS switches, and the userspace
datapath reads a tap with a packet socket before any nft or tc hook, so a
port's anti-spoofing is OpenFlow flows in table 0, all under a cookie of the
port's own: the VM's frames go to NORMAL only from its MAC, as its IPv4 and
IPv6 addresses, ARP for its address, ND and DAD for its addresses; router
advertisements and DHCP/DHCPv6 server messages are dropped; anything else
from the port is dropped. OVS's classifier keeps the cost of a packet flat
in the number of ports. The flows go in before the tap comes up (this
backend runs before the ip one), and a re-run only adds (an identical flow
replaces itself), so there is never a moment without them. They are written
as ovs-ofctl add-flows lines and sent in OpenFlow 1.3 (host/openflow.py; a
new port's before the port exists, for the number it asks for), else given
to ovs-ofctl.
"""

from __future__ import annotations

from snf_network.errors import CommandError, SnfNetworkError
from snf_network.host import Backend
from snf_network.plan import OvsFlows, OvsPort

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from snf_network.config import Config
    from snf_network.host import Host, openflow, ovsdb
    from snf_network.plan import Item

COOKIE_PREFIX = 0x736E66  # "snf": the top 24 bits of every cookie of ours
BASE_BIT = 1 << 39  # set in the cookie of a port's catch-all drop flow
COOKIE_MASK = ((1 << 64) - 1) & ~BASE_BIT
PREFIX_MASK = 0xFFFFFF << 40  # what matches every flow of ours, whatever its port
NORMAL = "actions=NORMAL"
DROP = "actions=drop"
QOS_OWNER = "snf-network-port"  # external_ids key of our QoS and Queue rows: the port they were made for


def cookie(port: str) -> str:
    """The port's cookie: "snf" and 39 bits of a hash of its name (stable across runs and hosts).

    Its catch-all drop flow has the cookie with BASE_BIT set (base_cookie), so
    that replacing the other flows never leaves the port without it.
    """
    from _blake2 import blake2b  # hashlib would load OpenSSL (ms); blake2 is built in

    digest = int.from_bytes(blake2b(port.encode(), digest_size=5).digest(), "big") & (BASE_BIT - 1)
    return f"0x{COOKIE_PREFIX << 40 | digest:016x}"


def base_cookie(value: str) -> str:
    return f"0x{int(value, 16) | BASE_BIT:016x}"


def cookie_match(value: str) -> str:
    """What matches every flow of a port: its cookie, with or without BASE_BIT."""
    return f"cookie={value}/0x{COOKIE_MASK:016x}"


def vsctl(cfg: Config) -> list[str]:
    """ovs-vsctl's argv for every caller (NIC ports, switch apply); an empty OVS_DB is OVS's own socket."""
    argv = ["ovs-vsctl", f"--timeout={max(1, int(cfg.COMMAND_TIMEOUT))}"]
    return [*argv, f"--db={cfg.OVS_DB}"] if cfg.OVS_DB else argv


def ofctl(cfg: Config, *words: str) -> list[str]:
    return ["ovs-ofctl", f"--timeout={max(1, int(cfg.COMMAND_TIMEOUT))}", *words]


def ofctl_target(cfg: Config, switch: str) -> str:
    """Where ovs-ofctl reaches ``switch``: its management socket in OVS_RUNDIR, else by name (OVS's own rundir)."""
    return f"unix:{cfg.OVS_RUNDIR}/{switch}.mgmt" if cfg.OVS_RUNDIR else switch


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def port_ids(item: OvsPort) -> list[tuple[str, str]]:
    return [("snf-network-instance", item.instance), ("snf-network-nic", item.nic), ("snf-network-mac", item.mac)]


def interface_ids(item: OvsPort) -> list[tuple[str, str]]:
    ids = [("vm-id", item.instance), ("attached-mac", item.mac)]
    return [*ids, ("iface-id", item.nic)] if item.nic else ids


def policing(item: OvsPort) -> tuple[int, int]:
    """The Interface's ingress_policing_rate and _burst (kbit/s and kbit, as OVS counts them; 0 0: none).

    Without a burst in the tag, 250 ms at the rate, and at least 1000 kbit
    (two segmentation-offload frames of 64 KiB: a policer drops a frame larger
    than its bucket). Measured under Debian's kernel with TCP at 20mbit: a
    100 ms bucket let 10-11 Mbit/s through, 250 ms 19-21, 500 ms 19-24; OVS's
    own default, 8000 kbit, would be seconds of line rate at a low limit.
    """
    if not item.rate:
        return 0, 0
    rate = max(1, (item.rate + 500) // 1000)
    burst = -(-item.burst * 8 // 1000) if item.burst else max(rate // 4, 1000)
    return rate, burst


def qos_commands(item: OvsPort, number: int) -> list[list[str]]:
    """A linux-htb QoS row with one queue (0, where the port's traffic goes) at the NIC's rate: ours by external_ids."""
    owner = f"external_ids:{QOS_OWNER}={_quoted(item.port)}"
    queue = [f"other_config:max-rate={item.rate}", *([f"other_config:burst={item.burst * 8}"] if item.burst else [])]
    return [
        [f"--id=@qos{number}", "create", "QoS", "type=linux-htb", f"other_config:max-rate={item.rate}",
         f"queues:0=@queue{number}", owner],
        [f"--id=@queue{number}", "create", "Queue", *queue, owner],
    ]


def port_commands(item: OvsPort, number: int = 0) -> list[list[str]]:
    """The transaction's commands that make ``item`` so (each an ovs-vsctl command, ``--`` between them)."""
    trunks = f"[{item.trunks}]" if item.trunks else "[]"
    rate, burst = policing(item)
    return [
        ["--may-exist", "add-port", item.switch, item.port],
        ["set", "Port", item.port, f"tag={item.tag or '[]'}", f"trunks={trunks}",
         f"vlan_mode={item.vlan_mode or '[]'}", f"qos={f'@qos{number}' if item.rate else '[]'}",
         *(f"external_ids:{key}={_quoted(value)}" for key, value in port_ids(item))],
        ["set", "Interface", item.port, f"ingress_policing_rate={rate}", f"ingress_policing_burst={burst}",
         *(f"external_ids:{key}={_quoted(value)}" for key, value in interface_ids(item))],
        *(qos_commands(item, number) if item.rate else []),
    ]


def transaction(cfg: Config, add: list[OvsPort], remove: list[OvsPort], replace: bool = False,
                rows: list[tuple[str, str]] | None = None) -> list[str]:
    """One ovs-vsctl invocation for all of it; ``rows`` (table, uuid): our QoS and Queue rows to destroy.

    QoS and Queue are root tables: OVSDB keeps them when no port refers to
    them any more, so the ones of the port's previous run go in the same
    transaction that deletes or replaces the port.
    """
    commands: list[list[str]] = []
    wanted = {item.port for item in add}
    for item in remove:
        if item.port not in wanted or item.switch not in {a.switch for a in add if a.port == item.port}:
            commands.append(["--if-exists", "del-port", item.port])
    for number, item in enumerate(add):
        if replace:
            commands.append(["--if-exists", "del-port", item.port])
        commands += port_commands(item, number)
    commands += [["--if-exists", "destroy", table, uuid] for table, uuid in rows or []]
    argv = vsctl(cfg)
    for command in commands:
        argv += ["--", *command]
    return argv


def flows(item: OvsFlows) -> list[str]:
    """Every flow of the port's guard, as ovs-ofctl add-flows lines (priorities: higher wins)."""
    base = f"cookie={item.cookie},in_port={_quoted(item.port)}"
    mac = item.mac
    addresses = [address for address in item.ip6.split(",") if address]
    lines = [
        # No DHCP or DHCPv6 server and no router advertisements from a VM.
        f"priority=110,{base},udp,tp_dst=68,{DROP}",
        f"priority=110,{base},udp6,tp_dst=546,{DROP}",
        f"priority=110,{base},icmp6,icmp_type=134,{DROP}",
    ]
    # To a server's (or relay's) port only what a client sends, from the
    # client's port: OpenFlow cannot read DHCP's op field, as nft does on
    # bridges, so a relay's or server's source port (67, 547) is what tells.
    dhcp4 = [f"udp,dl_src={mac},nw_src=0.0.0.0"]
    if item.ip4:
        dhcp4.append(f"udp,dl_src={mac},nw_src={item.ip4}")
    if item.any4:
        dhcp4 = [f"udp,dl_src={mac}"]
    lines += [f"priority=100,{base},{match},tp_src=68,tp_dst=67,{NORMAL}" for match in dhcp4]
    dhcp6 = [f"udp6,dl_src={mac}"] if item.any6 else [f"udp6,dl_src={mac},ipv6_src={a}" for a in addresses]
    lines += [f"priority=100,{base},{match},tp_src=546,tp_dst=547,{NORMAL}" for match in dhcp6]
    lines += [f"priority=95,{base},udp,tp_dst=67,{DROP}", f"priority=95,{base},udp6,tp_dst=547,{DROP}"]
    # Neighbour advertisements only for its own addresses, and duplicate
    # address detection probes (from ::) too: a probe for another VM's
    # address fails that address while it is tentative.
    if item.any6:
        lines.append(f"priority=90,{base},icmp6,icmp_type=136,dl_src={mac},{NORMAL}")
        lines.append(f"priority=90,{base},icmp6,icmp_type=135,ipv6_src=::,dl_src={mac},{NORMAL}")
    for target in addresses:
        lines += [f"priority=90,{base},icmp6,icmp_type=136,dl_src={mac},ipv6_src={source},nd_target={target},{NORMAL}"
                  for source in addresses]
        lines.append(f"priority=90,{base},icmp6,icmp_type=135,ipv6_src=::,dl_src={mac},nd_target={target},{NORMAL}")
    lines += [
        f"priority=90,{base},icmp6,icmp_type=143,ipv6_src=::,dl_src={mac},{NORMAL}",  # MLDv2 reports during DAD
        f"priority=85,{base},icmp6,icmp_type=136,{DROP}",
        f"priority=85,{base},icmp6,icmp_type=135,ipv6_src=::,{DROP}",
        # QEMU announces a migrated VM with RARP.
        f"priority=80,{base},rarp,dl_src={mac},{NORMAL}",
        f"priority=80,{base},arp,dl_src={mac},arp_sha={mac},arp_spa=0.0.0.0,{NORMAL}",
    ]
    if item.any4:
        lines += [f"priority=80,{base},arp,dl_src={mac},arp_sha={mac},{NORMAL}",
                  f"priority=80,{base},ip,dl_src={mac},{NORMAL}"]
    elif item.ip4:
        lines += [f"priority=80,{base},arp,dl_src={mac},arp_sha={mac},arp_spa={item.ip4},{NORMAL}",
                  f"priority=80,{base},ip,dl_src={mac},nw_src={item.ip4},{NORMAL}"]
    if item.any6:
        lines.append(f"priority=80,{base},ipv6,dl_src={mac},{NORMAL}")
    lines += [f"priority=80,{base},ipv6,dl_src={mac},ipv6_src={address},{NORMAL}" for address in addresses]
    return lines


def base_flow(item: OvsFlows) -> str:
    """Everything else the port sends: dropped (under base_cookie, see flow_script)."""
    return f"priority=10,cookie={base_cookie(item.cookie)},in_port={_quoted(item.port)},{DROP}"


def flow_script(add: list[OvsFlows], remove: list[OvsFlows]) -> str:
    """One ovs-ofctl add-flows input for a switch.

    For each port: its catch-all drop first (an identical flow replaces
    itself), then every other flow of its cookie deleted and the new ones
    added. In between, the port's frames meet the drop: never the switch's
    own NORMAL flow, not even on a re-run while the VM runs.
    """
    lines: list[str] = []
    kept = {item.cookie for item in add}
    for item in remove:
        if item.cookie not in kept:
            lines.append(f"delete {cookie_match(item.cookie)}")
    for item in add:
        lines += [f"add {base_flow(item)}", f"delete cookie={item.cookie}/-1"]
        lines += [f"add {line}" for line in flows(item)]
    return "".join(line + "\n" for line in lines)


class OvsBackend(Backend):
    kinds = (OvsPort.kind, OvsFlows.kind)
    title = "open vswitch"

    def apply(self, host: Host, cfg: Config, add: list[Item], remove: list[Item]) -> None:
        ports = [item for item in add if isinstance(item, OvsPort)]
        old_ports = [item for item in remove if isinstance(item, OvsPort)]
        guards = [item for item in add if isinstance(item, OvsFlows)]
        old_guards = [item for item in remove if isinstance(item, OvsFlows)]
        adding = bool(ports or guards)
        # Removing: flows first (the port's number may go to another port), then the port.
        if not adding:
            self._flows(host, cfg, [], old_guards, removing=True)
            if old_ports:
                host.run(transaction(cfg, [], old_ports), check=False)
                if any(item.rate for item in old_ports):
                    _destroy(host, cfg, owned_rows(host, cfg, old_ports))
            return
        from snf_network.host import openflow, ovsdb

        timeout = max(1.0, cfg.COMMAND_TIMEOUT)
        switches = {switch: openflow.Switch.connect(host, openflow.mgmt_socket(cfg.OVS_RUNDIR, switch), timeout)
                    for switch in dict.fromkeys(item.switch for item in guards + old_guards)}
        try:
            prepared = ovsdb.prepare(host, cfg, ports, old_ports) if ports else None
            early: set[str] = set()
            if prepared is not None:
                try:
                    early = self._early_flows(prepared, switches, guards, old_guards)
                    given = prepared.commit()
                finally:
                    prepared.close()
                for switch in sorted(early):
                    connection = switches[switch]
                    assert connection is not None
                    connection.finish()
                    if any(given.get(item.port) != prepared.numbers.get(item.port)
                           for item in guards if item.switch == switch):
                        # The switch numbered a port otherwise (someone took the number
                        # meanwhile): its flows, under its cookie, go again by name.
                        early.discard(switch)
                        connection.push("".join(f"delete {cookie_match(item.cookie)}\n"
                                                for item in guards if item.switch == switch))
            elif ports or old_ports:
                self._ports(host, cfg, ports, old_ports)
            self._flows(host, cfg, [item for item in guards if item.switch not in early],
                        [item for item in old_guards if item.switch not in early], removing=False,
                        switches=switches)
        finally:
            for opened in switches.values():
                if opened is not None:
                    opened.close()

    @staticmethod
    def _early_flows(prepared: ovsdb.PortTransaction, switches: dict[str, openflow.Switch | None],
                     guards: list[OvsFlows], old_guards: list[OvsFlows]) -> set[str]:
        """Send each switch's flows with the port numbers ``prepared`` asks for; the switches done so."""
        early = set()
        for switch, connection in switches.items():
            add = [item for item in guards if item.switch == switch]
            if connection is None or any(item.port not in prepared.numbers for item in add):
                continue
            remove = [item for item in old_guards if item.switch == switch]
            # A fresh number may carry flows of ours that a port removed behind our back
            # (ovs-vsctl del-port) left: they would let this VM send as that one. And a
            # tap's flows under its old number would drop whatever port gets that one.
            # The port does not exist yet, so nothing is unguarded meanwhile.
            cleared = "".join(f"delete cookie=0x{COOKIE_PREFIX << 40:016x}/0x{PREFIX_MASK:016x},"
                              f"in_port={prepared.numbers[item.port]}\ndelete {cookie_match(item.cookie)}\n"
                              for item in add if item.port in prepared.fresh)
            if connection.send(cleared + flow_script(add, remove), prepared.numbers):
                early.add(switch)
        return early

    def _ports(self, host: Host, cfg: Config, ports: list[OvsPort], old_ports: list[OvsPort]) -> None:
        """The ports by ovs-vsctl: what host/ovsdb.py leaves to it."""
        # Only a NIC with a limit, now or in its record, costs a read: the QoS rows it replaces.
        rows = owned_rows(host, cfg, ports + old_ports) if any(item.rate for item in ports + old_ports) else []
        # OVSDB checks references before it collects a deleted port's row: rows that
        # port refers to can only go in the transaction after the one that deletes it.
        together = transaction(cfg, ports, old_ports) == transaction(cfg, ports, [])
        argv = transaction(cfg, ports, old_ports, rows=rows if together else None)
        result = host.run(argv, check=False)
        if result.returncode != 0 and "is actually attached to bridge" in result.stderr:
            # A port of that name on another switch: --may-exist will not move it.
            together = False
            argv = transaction(cfg, ports, old_ports, replace=True)
            result = host.run(argv, check=False)
        if result.returncode != 0:
            raise CommandError(argv, result.returncode, result.stderr)
        if rows and not together:
            _destroy(host, cfg, rows)

    def _flows(self, host: Host, cfg: Config, guards: list[OvsFlows], old_guards: list[OvsFlows],
               removing: bool, switches: dict[str, openflow.Switch | None] | None = None) -> None:
        """Each switch's flows in OpenFlow from here (``switches``: connections opened already), else by ovs-ofctl."""
        from snf_network.host import openflow

        for switch in dict.fromkeys(item.switch for item in guards + old_guards):
            add = [item for item in guards if item.switch == switch]
            remove = [item for item in old_guards if item.switch == switch]
            script = flow_script(add, remove)
            opened = switches is not None and switch in switches
            connection = switches[switch] if switches is not None and opened else openflow.Switch.connect(
                host, openflow.mgmt_socket(cfg.OVS_RUNDIR, switch), max(1.0, cfg.COMMAND_TIMEOUT))
            try:
                if connection is not None and connection.push(script):
                    continue
            finally:
                if connection is not None and not opened:
                    connection.close()
            argv = ofctl(cfg, "add-flows", ofctl_target(cfg, switch), "-")
            result = host.run(argv, script, check=False)
            if result.returncode == 0:
                continue
            if removing and not add and _switch_gone(result.stderr):
                continue  # its flows went with it
            raise CommandError(argv, result.returncode, result.stderr)

    def commands(self, cfg: Config, add: list[Item]) -> list[str]:
        ports = [item for item in add if isinstance(item, OvsPort)]
        lines = [" ".join(transaction(cfg, ports, []))] if ports else []
        for item in add:
            if isinstance(item, OvsFlows):
                lines.append(f"ovs-ofctl add-flows {ofctl_target(cfg, item.switch)} - <<EOF")
                lines += flow_script([item], []).splitlines()
                lines.append("EOF")
        return lines

    def checker(self, host: Host) -> Callable[[list[Item]], list[str]]:
        from snf_network.config import load

        cfg = load()
        state: dict[str, dict[str, str]] = {}

        def ports() -> dict[str, dict[str, str]]:
            if not state:
                state.update(port_table(host, cfg))
                state.setdefault("", {})  # read once, even when there is no port
            return state

        def check(items: list[Item]) -> list[str]:
            problems = []
            for item in items:
                if isinstance(item, OvsPort):
                    problems += _port_problems(item, ports().get(item.port))
                elif isinstance(item, OvsFlows):
                    dumped = flow_dump(host, cfg, item.switch, item.cookie)
                    if dumped is None:
                        problems.append(f"switch {item.switch}: cannot read its flows")
                        continue
                    present, numbers = dumped
                    wanted = [*flows(item), base_flow(item)]
                    missing = [line for line in wanted if _normal(line) not in present]
                    if missing:
                        problems.append(f"missing {len(missing)} of the {len(wanted)} flows of "
                                        f"{item.describe()}")
                    # Flows for another number than the port's guard another port (or
                    # none), and this one is left to the switch's NORMAL flow.
                    number = ports().get(item.port, {}).get("ofport", "")
                    if number and numbers and number not in numbers:
                        problems.append(f"the flows of {item.describe()} are for OpenFlow port "
                                        f"{','.join(sorted(numbers))}, the port is {number}")
            return problems

        return check


def owned_rows(host: Host, cfg: Config, ports: list[OvsPort]) -> list[tuple[str, str]]:
    """Our QoS and Queue rows made for these ports (by external_ids), as (table, uuid), QoS first."""
    from snf_network import jsonlite

    result = host.run([*vsctl(cfg), "--format=json", "--", "--columns=_uuid,external_ids", "list", "QoS",
                       "--", "--columns=_uuid,external_ids", "list", "Queue"], check=False)
    if result.returncode != 0:
        raise SnfNetworkError(f"ovs-vsctl failed: {result.stderr.strip() or result.returncode}")
    names = {item.port for item in ports}
    text = result.stdout.strip()
    rows: list[tuple[str, str]] = []
    for table in ("QoS", "Queue"):
        data, end = jsonlite.scan(text)
        text = text[end:].strip()
        rows += [(table, row_uuid[1]) for row_uuid, ids in data["data"] if dict(ids[1]).get(QOS_OWNER) in names]
    return rows


def _destroy(host: Host, cfg: Config, rows: list[tuple[str, str]]) -> None:
    """Destroy our QoS and Queue rows (QoS first: it refers to its queue)."""
    if not rows:
        return
    argv = vsctl(cfg)
    for table, uuid in rows:
        argv += ["--", "--if-exists", "destroy", table, uuid]
    result = host.run(argv, check=False)
    if result.returncode != 0:
        raise CommandError(argv, result.returncode, result.stderr)


def _switch_gone(stderr: str) -> bool:
    return "is not a bridge or a socket" in stderr or "No such file or directory" in stderr


def port_table(host: Host, cfg: Config) -> dict[str, dict[str, str]]:
    """Every port's columns that we set: name -> {switch, tag, trunks, vlan_mode, id:<external id>}."""
    from snf_network import jsonlite

    result = host.run([*vsctl(cfg), "--format=json", "--",
                       "--columns=_uuid,name,tag,trunks,vlan_mode,qos,external_ids", "list", "Port",
                       "--", "--columns=name,ports", "list", "Bridge",
                       "--", "--columns=name,ingress_policing_rate,ingress_policing_burst,ofport", "list",
                       "Interface",
                       "--", "--columns=_uuid,type,other_config", "list", "QoS"], check=False)
    if result.returncode != 0:
        raise SnfNetworkError(f"ovs-vsctl failed: {result.stderr.strip() or result.returncode}")
    text = result.stdout.strip()
    tables = []
    for _ in range(4):
        data, end = jsonlite.scan(text)
        tables.append(data["data"])
        text = text[end:].strip()
    port_data, bridge_data, interface_data, qos_data = tables
    switches: dict[str, str] = {}
    for name, ports in bridge_data:
        for member in _set(ports):
            switches[member[1]] = name
    policed = {name: f"{rate}/{burst}" for name, rate, burst, _ in interface_data}
    ofports = {name: str(number) for name, _, _, number in interface_data if isinstance(number, int) and number > 0}
    # A QoS row's max-rate, as the port's limit (ours are linux-htb).
    rates = {row_uuid[1]: dict(config[1]).get("max-rate", "?") if kind == "linux-htb" else f"({kind})"
             for row_uuid, kind, config in qos_data}
    table: dict[str, dict[str, str]] = {}
    # ovsdb's JSON: an atom, ["set", [...]] (empty or several), ["map", [[k, v], ...]], ["uuid", u].
    for row_uuid, name, tag, trunks, mode, qos, ids in port_data:
        table[name] = {
            "switch": switches.get(row_uuid[1], ""),
            "tag": ",".join(str(t) for t in _set(tag)),
            "trunks": ",".join(str(t) for t in sorted(_set(trunks))),
            "vlan_mode": ",".join(_set(mode)),
            "max-rate": ",".join(rates.get(ref[1], "?") for ref in _set(qos)),
            "policing": policed.get(name, "0/0"),
            "ofport": ofports.get(name, ""),
            **{f"id:{key}": value for key, value in ids[1]},
        }
    return table


def _set(value: object) -> list[Any]:
    if isinstance(value, list) and value and value[0] == "set":
        return list(value[1])
    return [value]


def _port_problems(item: OvsPort, row: dict[str, str] | None) -> list[str]:
    if row is None:
        return [f"missing {item.describe()}"]
    problems = []
    if row.get("switch", item.switch) != item.switch:
        problems.append(f"port {item.port} is on switch {row.get('switch')}, not {item.switch}")
    wanted = {"tag": str(item.tag) if item.tag else "", "trunks": item.trunks, "vlan_mode": item.vlan_mode,
              "max-rate": str(item.rate) if item.rate else "", "policing": "{}/{}".format(*policing(item))}
    for column, value in wanted.items():
        if row.get(column, "") != value:
            problems.append(f"port {item.port}: {column} is {row.get(column) or 'empty'}, not {value or 'empty'}")
    for key, value in port_ids(item):
        if row.get(f"id:{key}") != value:
            problems.append(f"port {item.port}: external_ids:{key} is not {value!r} (not our port any more?)")
    return problems


def _normal(line: str) -> str:
    """A flow line as ovs-ofctl dump-flows writes it, for comparison: sorted fields, without cookie and counters."""
    fields = [field for field in map(str.strip, line.replace(" actions=", ",actions=").split(","))
              if field and not field.startswith(("cookie=", "duration=", "n_packets=", "n_bytes=", "idle_age=",
                                                 "table=", "hard_age=", "in_port="))]
    return ",".join(sorted(fields)).lower()


def flow_dump(host: Host, cfg: Config, switch: str, cookie: str) -> tuple[set[str], set[str]] | None:
    """The switch's flows under ``cookie``, normalised (_normal), and the port numbers they match on.

    None when the switch cannot be read.
    """
    result = host.run(ofctl(cfg, "--no-stats", "--no-names", "dump-flows", ofctl_target(cfg, switch),
                            cookie_match(cookie)), check=False)
    if result.returncode != 0:
        return None
    lines = [line.strip() for line in result.stdout.splitlines() if "cookie=" in line]
    numbers = {field.split("=", 1)[1] for line in lines for field in line.replace(" ", ",").split(",")
               if field.startswith("in_port=")}
    return {_normal(line) for line in lines}, numbers


BACKEND = OvsBackend()
