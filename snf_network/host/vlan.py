"""VLANs on VLAN-aware Linux bridges, through ``bridge -batch`` (iproute2).

A NIC's tap joins its bridge while still down (the ip backend brings it up
next) and gets its VLANs as Ganeti documents them (snf_network/vlans.py):
the native one as PVID, untagged; the others tagged. The kernel gives every
new port the bridge's default VLAN (1, ``default_pvid``): it is removed from
a NIC's tap unless the NIC names it, so a VM on VLAN 100 is not also on the
node's untagged network (Ganeti's own script leaves it there).

An uplink (VLAN_UPLINKS) gets a NIC's VLANs tagged. Several NICs may need one
uplink VLAN: it is removed with the last of them (the other records tell),
and never when it was on the uplink before any NIC of ours asked for it (a
marker in STATE_DIR/uplink-vlans says who added it).
"""

from __future__ import annotations

import os

from snf_network.errors import CommandError
from snf_network.host import Backend
from snf_network.plan import BridgeVlan, UplinkVlan

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Callable

    from snf_network.config import Config
    from snf_network.host import Host
    from snf_network.plan import Item

DEFAULT_VID = 1
OURS, OPERATOR = "snf-network", "operator"


def tagged(item: BridgeVlan) -> list[int]:
    return [int(vid) for vid in item.tagged.split(",") if vid]


def add_lines(item: Item) -> list[str]:
    if isinstance(item, BridgeVlan):
        wanted = ([item.pvid] if item.pvid else []) + tagged(item)
        lines = [] if DEFAULT_VID in wanted else [f"vlan del dev {item.dev} vid {DEFAULT_VID}"]
        if item.pvid:
            lines.append(f"vlan add dev {item.dev} vid {item.pvid} pvid untagged")
        return lines + [f"vlan add dev {item.dev} vid {vid}" for vid in tagged(item)]
    if isinstance(item, UplinkVlan):
        return [f"vlan add dev {item.dev} vid {item.vid}"]
    return []


def vlans_of(host: Host, dev: str) -> dict[int, set[str]]:
    """The VLANs of bridge port ``dev``: vid -> flags (PVID, Egress Untagged); empty when it has none."""
    from snf_network import jsonlite

    result = host.run(["bridge", "-j", "vlan", "show", "dev", dev], check=False)
    if result.returncode != 0 or not result.stdout.strip():
        return {}
    found: dict[int, set[str]] = {}
    for entry in jsonlite.loads(result.stdout):
        if entry.get("ifname") != dev:
            continue
        for vlan in entry.get("vlans", []):
            first, last = vlan["vlan"], vlan.get("vlanEnd", vlan["vlan"])
            for vid in range(first, last + 1):
                found[vid] = set(vlan.get("flags", []))
    return found


def _batch(host: Host, lines: list[str], check: bool) -> None:
    if not lines:
        return
    argv = ["bridge", "-force", "-batch", "-"]
    result = host.run(argv, "".join(line + "\n" for line in lines), check=False)
    if check and result.returncode != 0:
        raise CommandError(argv, result.returncode, result.stderr)


class VlanBackend(Backend):
    kinds = (BridgeVlan.kind, UplinkVlan.kind)
    title = "bridge vlan"

    def apply(self, host: Host, cfg: Config, add: list[Item], remove: list[Item]) -> None:
        marks = os.path.join(cfg.STATE_DIR, "uplink-vlans")
        removing: list[str] = []
        others = None
        for item in remove:
            if isinstance(item, BridgeVlan):
                # The tap's other VLANs go with it (it leaves the bridge next);
                # a tap that stays loses what the record gave it.
                vids = ([item.pvid] if item.pvid else []) + tagged(item)
                removing += [f"vlan del dev {item.dev} vid {vid}" for vid in vids]
            elif isinstance(item, UplinkVlan) and item not in add:
                if others is None:
                    others = _uplink_users(host, cfg)
                if others.get((item.dev, item.vid), set()) - {item.user}:
                    continue  # another NIC still needs it
                mark = os.path.join(marks, f"{item.dev}.{item.vid}")
                if (host.read(mark) or OURS).strip() == OURS:
                    removing.append(f"vlan del dev {item.dev} vid {item.vid}")
                host.remove(mark)
        _batch(host, removing, check=False)
        for item in add:
            if isinstance(item, BridgeVlan):
                # In the bridge before it comes up: the tap is never on VLAN 1 while it runs.
                argv = ["ip", "link", "set", "dev", item.dev, "master", item.bridge]
                result = host.run(argv, check=False)
                if result.returncode != 0:
                    raise CommandError(argv, result.returncode, result.stderr)
        adding: list[str] = []
        for item in add:
            if isinstance(item, UplinkVlan):
                mark = os.path.join(marks, f"{item.dev}.{item.vid}")
                if host.read(mark) is None:
                    host.write(mark, (OPERATOR if item.vid in vlans_of(host, item.dev) else OURS) + "\n")
            adding += add_lines(item)
        _batch(host, adding, check=True)

    def commands(self, cfg: Config, add: list[Item]) -> list[str]:
        joins = [f"ip link set dev {item.dev} master {item.bridge}" for item in add if isinstance(item, BridgeVlan)]
        return joins + [f"bridge {line}" for item in add for line in add_lines(item)]

    def checker(self, host: Host) -> Callable[[list[Item]], list[str]]:
        read: dict[str, dict[int, set[str]]] = {}

        def of(dev: str) -> dict[int, set[str]]:
            if dev not in read:
                read[dev] = vlans_of(host, dev)
            return read[dev]

        def check(items: list[Item]) -> list[str]:
            problems = []
            for item in items:
                if isinstance(item, BridgeVlan):
                    present = of(item.dev)
                    if item.pvid and not {"PVID", "Egress Untagged"} <= present.get(item.pvid, set()):
                        problems.append(f"{item.dev}: VLAN {item.pvid} is not its untagged PVID")
                    problems += [f"{item.dev}: missing VLAN {vid}" for vid in tagged(item) if vid not in present]
                    if DEFAULT_VID in present and DEFAULT_VID not in ([item.pvid, *tagged(item)]):
                        problems.append(f"{item.dev}: still on the default VLAN {DEFAULT_VID}")
                elif isinstance(item, UplinkVlan) and item.vid not in of(item.dev):
                    problems.append(f"missing {item.describe()}")
            return problems

        return check


def _uplink_users(host: Host, cfg: Config) -> dict[tuple[str, int], set[str]]:
    """Which interfaces' records hold each uplink VLAN."""
    from snf_network import record

    users: dict[tuple[str, int], set[str]] = {}
    for entry in record.load_all(host, cfg):
        for item in entry.items:
            if isinstance(item, UplinkVlan):
                users.setdefault((item.dev, item.vid), set()).add(entry.interface)
    return users


BACKEND = VlanBackend()
