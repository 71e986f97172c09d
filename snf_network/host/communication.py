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

from snf_network import log
from snf_network.errors import CommandError, InputError
from snf_network.host import Backend, files
from snf_network.plan import HostsEntry, ServiceAddress, TxChecksum

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Callable

    from snf_network.config import Config
    from snf_network.host import Host
    from snf_network.plan import Item

# dnsmasq's lease time for communication NICs: what a reused address may
# wait when its last lease could not be released (release_lease).
LEASE_TIME = "2m"

HEADER = "# snf-network: communication NICs (MAC,IP, each after its interface), from the records; do not edit\n"


def hosts_path(cfg: Config) -> str:
    return f"{cfg.COMMUNICATION_DIR}/hosts"


def config_path(cfg: Config) -> str:
    """dnsmasq's configuration, which ``serve`` writes and starts it with."""
    return f"{cfg.COMMUNICATION_DIR}/dnsmasq.conf"


def pid_path(cfg: Config) -> str:
    return f"{cfg.COMMUNICATION_DIR}/dnsmasq.pid"


def unreadable_by_nobody(path: str) -> str:
    """Why dnsmasq, which reads the hosts file as nobody, could not read ``path`` ('' when it could).

    By the permissions for others (nobody owns none of it): every directory
    on the way searchable, the file readable.
    """
    import stat

    parts = os.path.abspath(path).split("/")[1:]
    directory = "/"
    for part in parts[:-1]:
        directory = os.path.join(directory, part)
        try:
            if not os.stat(directory).st_mode & stat.S_IXOTH:
                return f"{directory} is not searchable by others (mode {stat.S_IMODE(os.stat(directory).st_mode):o})"
        except OSError as exc:
            return f"{directory}: {exc.strerror}"
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return f"{path}: {exc.strerror}"
    return "" if mode & stat.S_IROTH else f"{path} is not readable by others (mode {stat.S_IMODE(mode):o})"


def recorded_entries(host: Host, cfg: Config) -> list[HostsEntry]:
    """The hosts entries of every record."""
    from snf_network import record

    return [item for entry in record.load_all(host, cfg) for item in entry.items if isinstance(item, HostsEntry)]


def render(entries: list[HostsEntry]) -> str:
    """The hosts file: one ``MAC,IP`` line per MAC, each after a comment naming its interface.

    dnsmasq takes the first line it reads for a MAC, so a stale entry of a
    reused MAC must not shadow the live one: the last one given wins.
    """
    by_mac = {entry.mac: entry for entry in entries}
    return HEADER + "".join(f"# {entry.dev}\n{entry.line()}\n" for entry in by_mac.values())


def parse(text: str) -> list[HostsEntry]:
    """The entries of a hosts file we wrote (the file name is not kept: it is only compared with, not saved)."""
    entries, dev = [], ""
    for line in text.splitlines():
        if line.startswith("# "):
            dev = line[2:].strip()
        elif line and not line.startswith("#"):
            mac, _, ip = line.partition(",")
            entries.append(HostsEntry(dev, mac, ip, ""))
            dev = ""
    return entries


def rebuild(host: Host, cfg: Config, add: list[HostsEntry], touched: frozenset[str],
            from_records: bool = False) -> bool:
    """Make the hosts file hold ``add`` for the interfaces in ``touched``, and what it held for the others.

    Called under the host lock (the engine's, or serve's own), which every
    change of the file takes, so the file is the records' entries: a NIC
    program edits what is there rather than reading every record (100
    records cost it ~20 ms); ``from_records`` (serve's start and SIGHUP)
    builds it from the records themselves. Written atomically; True when it
    changed (and dnsmasq was told).
    """
    path = hosts_path(cfg)
    current = host.read(path)
    if from_records or current is None:
        kept = [entry for entry in recorded_entries(host, cfg) if entry.dev not in touched]
    else:
        kept = [entry for entry in parse(current) if entry.dev not in touched]
    content = render([*kept, *add])
    if current == content:
        return False
    host.write(path, content)
    reload_dnsmasq(host, cfg)
    return True


def refuse_taken_address(host: Host, entry: HostsEntry) -> None:
    """Refuse an address another tap's communication NIC holds (InputError: exit 2, nothing changed).

    Its host route would move to the new tap and, at that NIC's down, be
    gone: the first guest's channel taken, then cut. Called under the host
    lock (the engine's prepare), when the hosts file is the records' entries.
    """
    for held in parse(host.read(entry.file) or ""):
        if held.ip == entry.ip and held.dev != entry.dev:
            raise InputError(f"IP: {entry.ip} is the communication address of {held.dev}'s NIC already "
                             f"(MAC {held.mac}): refusing to take its channel")


def running_pid(host: Host, cfg: Config) -> int:
    """The pid of the dnsmasq ``serve`` started, or 0 (no pid file, or that process is no dnsmasq)."""
    text = (host.read(pid_path(cfg)) or "").strip()
    if not text.isdecimal() or not text.isascii():
        return 0
    pid = int(text)
    # A stale pid file must not send a signal to whatever reused the number,
    # not even another dnsmasq (Ganeti's, libvirt's): ours runs with our
    # configuration file.
    comm = files.read(f"{host.root}/proc/{pid}/comm")
    if comm is None or comm.strip() != "dnsmasq":
        return 0
    arguments = (files.read(f"{host.root}/proc/{pid}/cmdline") or "").split("\0")
    return pid if f"--conf-file={config_path(cfg)}" in arguments else 0


def reload_dnsmasq(host: Host, cfg: Config) -> bool:
    pid = running_pid(host, cfg)
    if not pid:
        return False
    try:
        os.kill(pid, _signal.SIGHUP)
    except ProcessLookupError:
        return False
    return True


def release_lease(host: Host, cfg: Config, entry: HostsEntry) -> None:
    """Have dnsmasq forget the lease of a NIC going away, with dnsmasq-utils' ``dhcp_release``.

    A SIGHUP makes dnsmasq re-read the hosts file, not drop its leases (kept
    in memory): the next holder of the address would get no answer ("not
    using configured address ... because it is leased to") until the lease
    expires (LEASE_TIME, short for that reason). dhcp_release sends dnsmasq a
    DHCPRELEASE as from the guest, out of the tap, which must still hold
    169.254.169.254: called before that address is removed. Best effort: a
    tap gone already, or no dhcp_release, leaves the lease to expire.
    """
    if not running_pid(host, cfg):
        return
    try:
        result = host.run(["dhcp_release", entry.dev, entry.ip, entry.mac], check=False)
    except CommandError as exc:
        log.warning(f"{entry.dev}: could not release the DHCP lease of {entry.ip} ({exc}): it expires "
                    f"within {LEASE_TIME}")
        return
    if result.returncode != 0:
        log.warning(f"{entry.dev}: dhcp_release {entry.ip}: {result.stderr.strip() or result.returncode}: "
                    f"the lease expires within {LEASE_TIME}")
        return
    _wait_until_dhcp_read(host)


def _wait_until_dhcp_read(host: Host, seconds: float = 0.25) -> None:
    """Until dnsmasq has read what waits on its DHCP socket (the release just sent), for at most ``seconds``.

    The caller removes the tap's 169.254.169.254 next; dnsmasq (bind-dynamic)
    ignores a packet of an interface it no longer has an address on, so a
    release still queued when the address goes is lost, and the address's
    next holder gets no answer until the lease expires (seen in CI).
    /proc/net/udp's rx_queue of local port 67 says when it has been read.
    """
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        table = host.read("/proc/net/udp") or ""
        queued = [int(fields[4].partition(":")[2], 16) for fields in (line.split() for line in table.splitlines()[1:])
                  if len(fields) > 4 and fields[1].endswith(":0043")]
        if not any(queued):
            return
        time.sleep(0.002)


SIOCETHTOOL, ETHTOOL_GTXCSUM, ETHTOOL_STXCSUM = 0x8946, 0x16, 0x17


def tx_checksum(dev: str, enable: bool | None = None) -> bool:
    """The transmit checksum offload of ``dev`` (set first when ``enable`` is given), like ``ethtool -K tx``.

    Raises OSError (ENODEV for a missing device, EOPNOTSUPP where the driver cannot change it).
    """
    import _socket  # type: ignore[import-not-found,unused-ignore]
    import array
    import fcntl
    import struct

    name = dev.encode()
    if len(name) >= 16:
        raise OSError(19, f"Cannot find device {dev!r}")
    def ethtool(sock: _socket.socket, command: int, data: int = 0) -> int:
        value = array.array("I", (command, data))  # struct ethtool_value, which the ifreq points at
        request = struct.pack("16sP", name, value.buffer_info()[0]).ljust(40, b"\0")  # struct ifreq
        fcntl.ioctl(sock.fileno(), SIOCETHTOOL, request)
        return value[1]

    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM, 0)
    try:
        if enable is not None:
            ethtool(sock, ETHTOOL_STXCSUM, int(enable))
        return bool(ethtool(sock, ETHTOOL_GTXCSUM))
    finally:
        sock.close()


class CommunicationBackend(Backend):
    kinds = (ServiceAddress.kind, TxChecksum.kind, HostsEntry.kind)
    title = "instance communication"

    def prepare(self, host: Host, items: list[Item], old_items: list[Item]) -> list[Item]:
        prepared: list[Item] = []
        for item in items:
            if isinstance(item, HostsEntry):
                refuse_taken_address(host, item)
            if isinstance(item, TxChecksum):
                # A re-run keeps the value from before our first run, not our own.
                previous = next((old.previous for old in old_items if old == item and isinstance(old, TxChecksum)),
                                None)
                if previous is None:
                    try:
                        previous = host.tx_checksum(item.dev)
                    except OSError:
                        previous = None  # a driver that cannot say: nothing to restore
                item = TxChecksum(item.dev, item.enabled, previous)
            prepared.append(item)
        return prepared

    def apply(self, host: Host, cfg: Config, add: list[Item], remove: list[Item]) -> None:
        entries = [item for item in add if isinstance(item, HostsEntry)]
        touched = frozenset(item.dev for item in (*add, *remove) if isinstance(item, HostsEntry))
        # Removing, the entry goes first; adding, it comes last: a guest is
        # answered only once its tap holds the address (and, the backends'
        # order, the filters are in place).
        if touched and not entries:
            rebuild(host, cfg, [], touched)
        for item in remove:
            if isinstance(item, HostsEntry) and item not in add:
                release_lease(host, cfg, item)
        for item in remove:
            if isinstance(item, ServiceAddress) and item not in add:
                try:
                    host.set_address(False, item.address, item.dev)
                except OSError:
                    pass  # gone already, or with its device
        for item in add:
            if isinstance(item, ServiceAddress):
                # Replace, not add: Ganeti's own kvm-ifup-os (up to 3.1) may have added it already.
                try:
                    host.set_address(True, item.address, item.dev)
                except OSError as exc:
                    raise CommandError(["ip", "address", "replace"], 2,
                                       f"ip address replace {item.address} dev {item.dev}: {exc.strerror}") from None
        for item in remove:
            if isinstance(item, TxChecksum) and item.previous is not None and item not in add:
                try:
                    host.tx_checksum(item.dev, item.previous)
                except OSError:
                    pass  # gone with its device
        for item in add:
            if isinstance(item, TxChecksum):
                try:
                    host.tx_checksum(item.dev, item.enabled)
                except OSError as exc:
                    # Best effort, as in Ganeti's script (ethtool ... || true): some drivers cannot.
                    log.warning(f"{item.dev}: could not turn tx checksumming {'on' if item.enabled else 'off'}: "
                                f"{exc.strerror}")
        if entries:
            rebuild(host, cfg, entries, touched)

    def commands(self, cfg: Config, add: list[Item]) -> list[str]:
        lines = [f"ip address replace {item.address} dev {item.dev}" for item in add
                 if isinstance(item, ServiceAddress)]
        lines += [f"ethtool -K {item.dev} tx {'on' if item.enabled else 'off'}" for item in add
                  if isinstance(item, TxChecksum)]
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
                elif isinstance(item, TxChecksum) and item.previous is not None:
                    try:
                        now = host.tx_checksum(item.dev)
                    except OSError:
                        continue
                    if now != item.enabled:
                        problems.append(f"tx checksumming is {'on' if now else 'off'} on {item.dev}")
                elif isinstance(item, HostsEntry):
                    if item.file not in hosts:
                        hosts[item.file] = (host.read(item.file) or "").splitlines()
                    if item.line() not in hosts[item.file]:
                        problems.append(f"missing dnsmasq host {item.line()} in {item.file}")
            return problems

        return check


BACKEND = CommunicationBackend()
