"""Everything that changes or reads the host lives under this package, and nothing else does.

A ``Host`` is the one door: the engine, the records and the probes are handed
one and never touch the machine any other way, so the same code runs for real
(the NIC programs, under ``ip netns exec`` in the kernel tests) or against a
recording double (tests/unit/hosts.py) that shows what it would have done.

There is no in-process network namespace switch: netlink sockets, /proc/sys
and /sys/class/net would all have to follow it, which is what ``ip netns
exec`` already does for a whole process, and is how Ganeti-shaped tests run
our programs. ``root`` prefixes the kernel's file systems instead, so a test
can give the probes a /sys of its own.
"""

from __future__ import annotations

import os

from snf_network.host import files, run

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    import _socket
    from collections.abc import Callable

    from snf_network.config import Config
    from snf_network.host.lock import held
    from snf_network.plan import Item


class Host:
    """The machine a NIC program runs on: commands, files, /proc/sys, links, netlink."""

    def __init__(self, root: str = "", timeout: float = 20.0) -> None:
        self.root = root  # prefix of /proc and /sys (tests); our own paths come from the config
        self.timeout = timeout  # seconds any command may take (COMMAND_TIMEOUT)

    # Commands.
    def run(self, argv: list[str], stdin: str | None = None, check: bool = True) -> run.Result:
        return run.run(argv, stdin, check, self.timeout)

    # Files (paths as the config gives them).
    def read(self, path: str) -> str | None:
        return files.read(path, follow=False)

    def write(self, path: str, content: str, mode: int = 0o644) -> None:
        """Our own files: a reader never sees half of one."""
        files.atomic_replace(path, content, mode)

    def write_in_place(self, path: str, content: str, mode: int = 0o644) -> None:
        """Another daemon's files (nfdhcpd's bindings): see files.write_in_place."""
        files.write_in_place(path, content, mode)

    def remove(self, path: str) -> bool:
        return files.remove(path)

    def listdir(self, path: str) -> list[str]:
        try:
            return sorted(os.listdir(path))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def lock(self, path: str, timeout: float) -> held:
        from snf_network.host.lock import held

        return held(path, timeout)

    # Kernel settings, relative to /proc/sys (net/ipv4/conf/tap3/proxy_arp).
    def sysctl(self, path: str) -> str | None:
        """The value, or None where there is no such setting (a device that is gone)."""
        try:
            with open(f"{self.root}/proc/sys/{path}", encoding="ascii") as handle:
                return handle.read().strip()
        except OSError:
            return None

    def set_sysctl(self, path: str, value: str) -> None:
        with open(f"{self.root}/proc/sys/{path}", "w", encoding="ascii") as handle:
            handle.write(value)

    # Links.
    def link_exists(self, dev: str) -> bool:
        return os.path.exists(f"{self.root}/sys/class/net/{dev}")

    def link_attribute(self, dev: str, name: str) -> str:
        """``/sys/class/net/<dev>/<name>`` (address, mtu, flags, ...), '' when unreadable."""
        return (files.read(f"{self.root}/sys/class/net/{dev}/{name}") or "").strip()

    def link_master(self, dev: str) -> str:
        """The bridge (or bond) ``dev`` is enslaved to, '' when none."""
        target = f"{self.root}/sys/class/net/{dev}/master"
        return os.path.basename(os.readlink(target)) if os.path.islink(target) else ""

    def is_bridge(self, dev: str) -> bool:
        return os.path.isdir(f"{self.root}/sys/class/net/{dev}/bridge")

    def interface_kind(self, dev: str) -> str:
        """What ``dev`` is: 'tap', 'tun', another kind ``ip -d link`` names, 'loopback', 'device' or ''.

        'tun' is a layer-3 tun; the kinds are veth, bridge, bond, vlan, dummy
        and so on; 'device' is a driver's own (hardware, Xen's netback vifs);
        '' says the device is gone. A tap is told by sysfs alone (one file
        read, the common case); other devices cost one netlink request, as
        sysfs bears no mark of a veth (no DEVTYPE, no driver link).
        """
        flags = files.read(f"{self.root}/sys/class/net/{dev}/tun_flags")
        if flags is not None:
            return "tap" if int(flags.strip() or "0", 16) & 0x0002 else "tun"  # IFF_TAP
        from snf_network.host import netlink

        try:
            return netlink.link_kind(dev) or "device"
        except OSError:
            return ""

    # Netlink (host/netlink.py says why these are not ``ip`` commands).
    def default_route_devices(self, family: int, table: str) -> tuple[str, ...]:
        from snf_network.host import netlink

        return netlink.default_route_devices(family, table)

    def table_routes(self, family: int, table: str,
                     device: str = "") -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
        """One dump of ``table``: its default routes' devices, and its routes' (next hop, device) pairs.

        With ``device``, of its routes through that device only.
        """
        from snf_network.host import netlink

        return netlink.table_routes(family, table, device)

    def route_match(self, address: str) -> tuple[str, int, str, bool]:
        """The node's route for ``address``: (type, table number, device, through a gateway); type '' for none.

        Type local, broadcast or anycast: the address is the node's own (host/netlink.py).
        """
        from snf_network.host import netlink

        return netlink.route_match(address)

    def proxy_neighbour(self, add: bool, address: str, dev: str) -> None:
        from snf_network.host import netlink

        netlink.proxy_neighbour(add, address, dev)

    def set_address(self, add: bool, address: str, dev: str) -> None:
        """An IPv4 address of the node's on ``dev`` (a communication tap's 169.254.169.254/32), over netlink."""
        from snf_network.host import netlink

        netlink.set_address(add, address, dev)

    def tx_checksum(self, dev: str, enable: bool | None = None) -> bool:
        """The transmit checksum offload of ``dev``, set first when ``enable`` is given (SIOCETHTOOL)."""
        from snf_network.host import communication

        return communication.tx_checksum(dev, enable)

    def remove_legacy_rules(self, interface: str) -> list[str]:
        """The rules GRNET's bash snf-network left for ``interface`` (host/legacy.py), removed."""
        from snf_network.host import legacy

        return legacy.remove_legacy_rules(self, interface)

    def unix_stream(self, path: str) -> _socket.socket | None:
        """A stream connected to a daemon's unix socket (Open vSwitch's database, a switch); None if none answers.

        None sends the caller to the daemon's own tool, which says why in words
        the operator knows (host/ovsdb.py, host/openflow.py).
        """
        import _socket

        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        sock.settimeout(self.timeout)
        try:
            sock.connect(path)
        except OSError:
            sock.close()
            return None
        return sock

    def announce(self, announcements: list[tuple[str, str, str]]) -> None:
        """Gratuitous ARP / unsolicited NA, from a detached child (host/announce.py)."""
        from snf_network.host import announce

        announce.in_background(announcements)


class Backend:
    """What one subsystem of the host does with the items of its kinds."""

    kinds: tuple[str, ...] = ()
    title = ""  # the heading of its commands in ``snf-network plan``

    def prepare(self, host: Host, items: list[Item], old_items: list[Item]) -> list[Item]:
        """``items`` with what undoing them will need (read before anything changes)."""
        return items

    def apply(self, host: Host, cfg: Config, add: list[Item], remove: list[Item]) -> None:
        """Remove ``remove`` and make ``add`` so (each idempotent); raise when an addition fails."""
        raise NotImplementedError

    def commands(self, cfg: Config, add: list[Item]) -> list[str]:
        """What ``apply`` would run for ``add``, for ``snf-network plan``."""
        return []

    def checker(self, host: Host) -> Callable[[list[Item]], list[str]]:
        """A function telling, for items said to be applied, what the host lacks (one line each).

        Made once per ``verify``, so a backend reads the host's state once for every record.
        """
        raise NotImplementedError
