"""A Host that records what it is asked to do instead of doing it (the engine's unit tests).

Files are real, under the test's temporary directory (the config points every
path there); commands, /proc/sys, links and netlink are kept in memory. A test
makes a step fail with ``fail_when``: a predicate on (argv, stdin).
"""

from __future__ import annotations

from collections.abc import Callable

from snf_network.errors import CommandError
from snf_network.host import Host
from snf_network.host.run import Result


class RecordingHost(Host):
    def __init__(self) -> None:
        super().__init__()
        self.commands: list[tuple[list[str], str]] = []
        self.sysctls: dict[str, str] = {}
        self.links: dict[str, dict[str, str]] = {}
        self.bridges: set[str] = set()
        self.routes: dict[tuple[int, str], tuple[str, ...]] = {}  # (family, table): default routes' devices
        self.next_hops: dict[tuple[int, str], tuple[tuple[str, str], ...]] = {}  # (family, table): (gateway, dev)
        self.local: dict[str, tuple[str, str]] = {}  # the node's own addresses: address -> (type, device)
        self.on_link: dict[str, str] = {}  # addresses on one of main's links: address -> device
        self.proxies: set[tuple[str, str]] = set()
        self.addresses: set[tuple[str, str]] = set()  # (address/prefix, device): Host.set_address
        self.announced: list[tuple[str, str, str]] = []
        self.fail_when: Callable[[list[str], str], bool] = lambda argv, stdin: False
        self.fail_proxy = False
        self.fail_write: Callable[[str], bool] = lambda path: False

    def add_link(self, dev: str, address: str = "52:54:00:00:00:01", mtu: int = 1500, bridge: bool = False,
                 kind: str = "tap") -> None:
        self.links[dev] = {"address": address, "mtu": str(mtu), "flags": "0x1002",
                           "kind": "bridge" if bridge else kind}
        # The kernel's defaults for a new device.
        self.sysctls.setdefault(f"net/ipv4/conf/{dev}/proxy_arp", "0")
        self.sysctls.setdefault(f"net/ipv4/neigh/{dev}/proxy_delay", "80")
        self.sysctls.setdefault(f"net/ipv6/conf/{dev}/accept_ra", "1")
        if bridge:
            self.bridges.add(dev)

    # What the engine runs.
    def run(self, argv: list[str], stdin: str | None = None, check: bool = True) -> Result:
        self.commands.append((argv, stdin or ""))
        if self.fail_when(argv, stdin or ""):
            if check:
                raise CommandError(argv, 1, "injected failure")
            return Result(1, "", "injected failure")
        return Result(0, "", "")

    def nft_scripts(self) -> list[str]:
        return [stdin for argv, stdin in self.commands if argv[:2] == ["nft", "-f"]]

    def ip_batches(self, family: int = 4) -> list[str]:
        prefix = ["ip", "-force"] if family == 4 else ["ip", "-6"]
        return [stdin for argv, stdin in self.commands if argv[:2] == prefix]

    def write(self, path: str, content: str, mode: int = 0o644) -> None:
        if self.fail_write(path):
            raise OSError(28, "No space left on device", path)
        super().write(path, content, mode)

    def sysctl(self, path: str) -> str | None:
        return self.sysctls.get(path)

    def set_sysctl(self, path: str, value: str) -> None:
        if path not in self.sysctls:
            raise OSError(2, "No such file or directory", path)
        self.sysctls[path] = value

    def link_exists(self, dev: str) -> bool:
        return dev in self.links

    def link_attribute(self, dev: str, name: str) -> str:
        return self.links.get(dev, {}).get(name, "")

    def is_bridge(self, dev: str) -> bool:
        return dev in self.bridges

    def interface_kind(self, dev: str) -> str:
        return self.links[dev]["kind"] if dev in self.links else ""

    def default_route_devices(self, family: int, table: str) -> tuple[str, ...]:
        return self.routes.get((family, table), ())

    def table_routes(self, family: int, table: str,
                     device: str = "") -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
        devices = self.routes.get((family, table), ())
        hops = self.next_hops.get((family, table), ())
        if device:
            devices, hops = tuple(d for d in devices if d == device), tuple(h for h in hops if h[1] == device)
        return devices, hops

    def route_match(self, address: str) -> tuple[str, int, str, bool]:
        if address in self.local:
            kind, device = self.local[address]
            return kind, 255, device, False
        if address in self.on_link:
            return "unicast", 254, self.on_link[address], False
        return "unicast", 254, "eth0", True  # through main's default route

    def proxy_neighbour(self, add: bool, address: str, dev: str) -> None:
        if self.fail_proxy and add:
            raise OSError(19, "No such device")
        if add:
            self.proxies.add((address, dev))
        elif (address, dev) in self.proxies:
            self.proxies.remove((address, dev))
        else:
            raise OSError(2, "No such file or directory")

    def set_address(self, add: bool, address: str, dev: str) -> None:
        if self.fail_when(["ip", "address", "add" if add else "del", address, "dev", dev], ""):
            raise OSError(17, "injected failure")
        if add:
            self.addresses.add((address, dev))
        elif (address, dev) in self.addresses:
            self.addresses.remove((address, dev))
        else:
            raise OSError(99, "Cannot assign requested address")

    def tx_checksum(self, dev: str, enable: bool | None = None) -> bool:
        if dev not in self.links:
            raise OSError(19, "No such device")
        if enable is not None:
            self.links[dev]["tx_checksum"] = "1" if enable else "0"
        return self.links[dev].get("tx_checksum", "1") == "1"

    def remove_legacy_rules(self, interface: str) -> list[str]:
        return []

    def announce(self, announcements: list[tuple[str, str, str]]) -> None:
        self.announced += announcements

    def unix_stream(self, path: str) -> None:
        """No daemon answers here: Open vSwitch's work goes to ovs-vsctl and ovs-ofctl, which are recorded."""
        return None
