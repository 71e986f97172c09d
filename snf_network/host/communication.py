"""The node side of instance communication: the taps' service address, and the node dnsmasq's hosts file.

One dnsmasq serves every communication tap of the node (``snf-network
communication serve``, services/communication.py). It is never restarted
for a NIC: the hosts file (``MAC,IP`` lines) is rebuilt from our records
under the host lock, written atomically, and dnsmasq re-reads it on SIGHUP,
which this module sends to the pid ``serve`` wrote. No dnsmasq running is
not an error here: ``serve`` rebuilds the file when it starts, and
``snf-network communication status`` says it is not running.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found,unused-ignore]  # the signal module would import enum (~4 ms)
import os

from snf_network.host import Backend, files
from snf_network.plan import HostsEntry, ServiceAddress

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Callable

    from snf_network.config import Config
    from snf_network.host import Host
    from snf_network.plan import Item

HEADER = "# snf-network: communication NICs (MAC,IP), rebuilt from the records; do not edit\n"


def hosts_path(cfg: Config) -> str:
    return f"{cfg.COMMUNICATION_DIR}/hosts"


def pid_path(cfg: Config) -> str:
    return f"{cfg.COMMUNICATION_DIR}/dnsmasq.pid"


def recorded_entries(host: Host, cfg: Config, skip: frozenset[str] = frozenset()) -> list[HostsEntry]:
    """The hosts entries of every record, but those of the interfaces in ``skip``."""
    from snf_network import record

    return [item for entry in record.load_all(host, cfg) if entry.interface not in skip
            for item in entry.items if isinstance(item, HostsEntry)]


def render(entries: list[HostsEntry]) -> str:
    # One line per MAC: dnsmasq takes the first it reads, so a stale record
    # of a reused MAC must not shadow the live one (the newest comes last in
    # the records' order, which is the tap names': keep the last).
    by_mac = {entry.mac: entry for entry in entries}
    return HEADER + "".join(f"{entry.line()}\n" for entry in sorted(by_mac.values(), key=lambda e: e.ip))


def rebuild(host: Host, cfg: Config, add: list[HostsEntry], touched: frozenset[str]) -> bool:
    """Write the hosts file from the records, with ``add`` for the interfaces in ``touched``.

    Called under the host lock (the engine's, or serve's own). The records
    of ``touched`` interfaces are being changed (a pending record holds old
    and new items), so theirs come from ``add`` alone. True when the file
    changed (and dnsmasq was told).
    """
    content = render([*recorded_entries(host, cfg, touched), *add])
    path = hosts_path(cfg)
    if host.read(path) == content:
        return False
    host.write(path, content)
    reload_dnsmasq(host, cfg)
    return True


def running_pid(host: Host, cfg: Config) -> int:
    """The pid of the dnsmasq ``serve`` started, or 0 (no pid file, or that process is no dnsmasq)."""
    text = (host.read(pid_path(cfg)) or "").strip()
    if not text.isdecimal() or not text.isascii():
        return 0
    pid = int(text)
    # A stale pid file must not send a signal to whatever reused the number.
    comm = files.read(f"{host.root}/proc/{pid}/comm")
    return pid if comm is not None and comm.strip() == "dnsmasq" else 0


def reload_dnsmasq(host: Host, cfg: Config) -> bool:
    pid = running_pid(host, cfg)
    if not pid:
        return False
    try:
        os.kill(pid, _signal.SIGHUP)
    except ProcessLookupError:
        return False
    return True


class CommunicationBackend(Backend):
    kinds = (ServiceAddress.kind, HostsEntry.kind)
    title = "instance communication"

    def apply(self, host: Host, cfg: Config, add: list[Item], remove: list[Item]) -> None:
        from snf_network.host import ip

        entries = [item for item in add if isinstance(item, HostsEntry)]
        touched = frozenset(item.dev for item in (*add, *remove) if isinstance(item, HostsEntry))
        # Removing, the entry goes first; adding, it comes last: a guest is
        # answered only once its tap holds the address (and, the backends'
        # order, the filters are in place).
        if touched and not entries:
            rebuild(host, cfg, [], touched)
        lines = [ip.Line(4, f"address del {item.address} dev {item.dev}", False)
                 for item in remove if isinstance(item, ServiceAddress) and item not in add]
        # replace, not add: Ganeti's own kvm-ifup-os (up to 3.1) may have added it already.
        lines += [ip.Line(4, f"address replace {item.address} dev {item.dev}", True)
                  for item in add if isinstance(item, ServiceAddress)]
        if lines:
            ip.apply(host, lines)
        if entries:
            rebuild(host, cfg, entries, touched)

    def commands(self, cfg: Config, add: list[Item]) -> list[str]:
        lines = [f"ip address replace {item.address} dev {item.dev}" for item in add
                 if isinstance(item, ServiceAddress)]
        lines += [f"{item.file}: {item.line()}, then SIGHUP to dnsmasq" for item in add
                  if isinstance(item, HostsEntry)]
        return lines

    def checker(self, host: Host) -> Callable[[list[Item]], list[str]]:
        addresses: list[str] = []  # read once per verify, when first needed
        hosts: dict[str, list[str]] = {}

        def has_address(item: ServiceAddress) -> bool:
            if not addresses:
                addresses.extend(host.run(["ip", "-o", "-4", "address", "show"], check=False).stdout.splitlines()
                                 or [""])
            return any(line.split()[1:2] == [item.dev] and f" inet {item.address} " in line for line in addresses)

        def check(items: list[Item]) -> list[str]:
            problems = []
            for item in items:
                if isinstance(item, ServiceAddress) and not has_address(item):
                    problems.append(f"missing address {item.address} on {item.dev}")
                elif isinstance(item, HostsEntry):
                    if item.file not in hosts:
                        hosts[item.file] = (host.read(item.file) or "").splitlines()
                    if item.line() not in hosts[item.file]:
                        problems.append(f"missing dnsmasq host {item.line()} in {item.file}")
            return problems

        return check


BACKEND = CommunicationBackend()
