"""Kernel settings through /proc/sys (no sysctl process per value).

A setting's value before our first change is read before the interface's
pending record is saved (``prepare``), so whatever kills a run after that,
undoing the record puts the old value back: no ``proxy_arp=1`` outlives us.
"""

from __future__ import annotations

from snf_network.errors import SnfNetworkError
from snf_network.host import Backend
from snf_network.plan import Sysctl

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Callable

    from snf_network.config import Config
    from snf_network.host import Host
    from snf_network.plan import Item


class SysctlBackend(Backend):
    kinds = (Sysctl.kind,)
    title = "/proc/sys"

    def prepare(self, host: Host, items: list[Item], old_items: list[Item]) -> list[Item]:
        prepared: list[Item] = []
        for item in items:
            if isinstance(item, Sysctl):
                # A re-run keeps the value from before our first run, not our own.
                previous = next((old.previous for old in old_items if old == item and isinstance(old, Sysctl)),
                                None)
                if previous is None:
                    previous = host.sysctl(item.path)
                    if previous is None:
                        raise SnfNetworkError(f"/proc/sys/{item.path}: no such setting (is the interface there?)")
                item = Sysctl(item.path, item.value, previous)
            prepared.append(item)
        return prepared

    def apply(self, host: Host, cfg: Config, add: list[Item], remove: list[Item]) -> None:
        for item in remove:
            # Per-device settings vanish with the device; nothing to restore then.
            if isinstance(item, Sysctl) and item.previous and host.sysctl(item.path) is not None:
                host.set_sysctl(item.path, item.previous)
        for item in add:
            if isinstance(item, Sysctl):
                host.set_sysctl(item.path, item.value)

    def commands(self, cfg: Config, add: list[Item]) -> list[str]:
        return [f"echo {item.value} > /proc/sys/{item.path}" for item in add if isinstance(item, Sysctl)]

    def checker(self, host: Host) -> Callable[[list[Item]], list[str]]:
        def check(items: list[Item]) -> list[str]:
            problems = []
            for item in items:
                if isinstance(item, Sysctl):
                    value = host.sysctl(item.path)
                    if value is not None and value != item.value:
                        problems.append(f"sysctl {item.path} is {value}, not {item.value}")
            return problems

        return check


BACKEND = SysctlBackend()
