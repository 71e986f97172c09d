"""Linux bridges and bonds: the steps of a ``linux-bridge`` switch, through ``ip`` and ``bridge``.

Each ``make`` is idempotent (it reads the device first) and returns what
the node had before, for the record: a port, member or VLAN that was there
already is ``existed`` and never undone. Each ``undo`` removes only what the
step made, and returns a warning when it leaves something on purpose (a
bridge that still has ports: instances' taps would lose their network).
"""

from __future__ import annotations

import os

from snf_network.errors import SnfNetworkError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from snf_network.host import Host
    from snf_network.switch.steps import Step

# /sys/class/net/<bond>/bonding/mode reads "802.3ad 4".
_LACP_ACTIVE = {"active": "on", "passive": "off"}


def bridge_ports(host: Host, bridge: str) -> list[str]:
    return host.listdir(f"{host.root}/sys/class/net/{bridge}/brif")


def _ip(host: Host, *words: str) -> None:
    host.run(["ip", *words])


def make(host: Host, step: Step) -> str:
    dev = step.dev
    if step.kind == "bridge":
        if not host.link_exists(dev):
            _ip(host, "link", "add", dev, "type", "bridge", *(("vlan_filtering", "1") if step.args else ()))
            _ip(host, "link", "set", dev, "up")
            return "created"  # even if an earlier apply found it there: it is ours now
        elif not host.is_bridge(dev):
            raise SnfNetworkError(f"{step.switch}: {dev} exists and is not a bridge")
        previous = step.previous or "existed"
        filtering = host.link_attribute(dev, "bridge/vlan_filtering") == "1"
        if step.args and not filtering:
            _ip(host, "link", "set", dev, "type", "bridge", "vlan_filtering", "1")
            if previous == "existed":
                previous = "existed:vlan_filtering=0"  # the operator's bridge: undo turns it off again
        elif not step.args and filtering and previous == "existed:vlan_filtering=0":
            _ip(host, "link", "set", dev, "type", "bridge", "vlan_filtering", "0")  # vlans gone from the file
            previous = "existed"
        _ip(host, "link", "set", dev, "up")
        return previous
    if step.kind == "bond":
        mode, lacp = step.args
        if not host.link_exists(dev):
            extra = ("lacp_active", _LACP_ACTIVE[lacp]) if mode == "802.3ad" else ()
            _ip(host, "link", "add", dev, "type", "bond", "mode", mode, "miimon", "100", *extra)
            _ip(host, "link", "set", dev, "up")
            return "created"
        else:
            current = host.link_attribute(dev, "bonding/mode").split(" ")[0]
            if not current:
                raise SnfNetworkError(f"{step.switch}: {dev} exists and is not a bond")
            if current != mode:
                raise SnfNetworkError(f"{step.switch}: bond {dev} exists in mode {current}, not {mode} "
                                      "(change it by hand, or remove it first)")
            previous = "existed"
        _ip(host, "link", "set", dev, "up")
        return step.previous or previous
    if step.kind in ("member", "port"):
        master = step.args[0]
        current = host.link_master(dev)
        if current == master and not step.previous:
            return "existed"  # the operator's: never taken out by undo
        if current != master:
            if current:
                raise SnfNetworkError(f"{step.switch}: {dev} is already a port of {current}")
            if step.kind == "member":
                _ip(host, "link", "set", dev, "down")  # the bonding driver takes only devices that are down
            _ip(host, "link", "set", dev, "master", master)
        _ip(host, "link", "set", dev, "up")
        return step.previous or "made"
    if step.kind == "mtu":
        previous = step.previous or host.link_attribute(dev, "mtu")
        _ip(host, "link", "set", dev, "mtu", step.args[0])
        return previous
    if step.kind == "vlan":
        if not step.previous and present(host, step):
            return "existed"
        add_vlans(host, [step])
        return step.previous or "made"
    raise SnfNetworkError(f"unknown switch step {step.kind}")  # pragma: no cover - steps.of_switch makes these


def undo(host: Host, step: Step) -> tuple[str, bool]:
    """Remove what ``step`` made: (a warning or '', whether the step stays recorded to be retried).

    A bridge we made that still has ports stays (instances' taps would lose
    their network), and so does its record: a later apply removes it once
    it is empty.
    """
    dev = step.dev
    if not host.link_exists(dev) or step.previous == "existed":
        return "", False
    if step.kind == "bridge":
        if step.previous == "created":
            ports = bridge_ports(host, dev)
            if ports:
                return f"{step.switch}: kept bridge {dev}: it still has ports ({' '.join(ports)})", True
            _ip(host, "link", "del", dev)
        elif step.previous.endswith("vlan_filtering=0"):
            _ip(host, "link", "set", dev, "type", "bridge", "vlan_filtering", "0")
        return "", False
    if step.kind == "bond":
        if step.previous == "created":
            _ip(host, "link", "del", dev)
        return "", False
    if step.kind in ("member", "port"):
        if host.link_master(dev) == step.args[0]:
            _ip(host, "link", "set", dev, "nomaster")
        return "", False
    if step.kind == "mtu":
        if step.previous and step.previous != host.link_attribute(dev, "mtu"):
            result = host.run(["ip", "link", "set", dev, "mtu", step.previous], check=False)
            if result.returncode != 0:
                return f"{step.switch}: could not put the mtu of {dev} back to {step.previous}", False
        return "", False
    if step.kind == "vlan":
        del_vlans(host, [step])
    return "", False


def add_vlans(host: Host, steps: list[Step]) -> None:
    """Tag ``steps``' VLANs on their devices: one ``bridge -batch`` for them all (vlans = 1-4094)."""
    if steps:
        host.run(["bridge", "-batch", "-"], "".join(f"vlan add dev {step.dev} vid {step.args[0]}\n"
                                                    for step in steps))


def del_vlans(host: Host, steps: list[Step]) -> None:
    """Untag ``steps``' VLANs, ours only (not ``existed``); gone already is fine (``-force`` goes on)."""
    lines = [f"vlan del dev {step.dev} vid {step.args[0]}\n" for step in steps
             if step.previous != "existed" and host.link_exists(step.dev)]
    if lines:
        host.run(["bridge", "-force", "-batch", "-"], "".join(lines), check=False)


class VlanCache:
    """The VLANs on each device, read once per device (``bridge -j vlan show``)."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.devices: dict[str, set[str]] = {}

    def has(self, dev: str, vid: str) -> bool:
        if dev not in self.devices:
            self.devices[dev] = vlans_on(self.host, dev) if self.host.link_exists(dev) else set()
        return vid in self.devices[dev]


def vlans_on(host: Host, dev: str) -> set[str]:
    """The VIDs on ``dev``, as the steps hold them (text): host/vlan.py reads them for NICs too."""
    from snf_network.host.vlan import vlans_of

    return {str(vid) for vid in vlans_of(host, dev)}


def present(host: Host, step: Step) -> bool:
    """Whether the node holds ``step`` (``switch show``)."""
    dev = step.dev
    if not host.link_exists(dev):
        return False
    if step.kind in ("member", "port"):
        return host.link_master(dev) == step.args[0]
    if step.kind == "mtu":
        return host.link_attribute(dev, "mtu") == step.args[0]
    if step.kind == "bridge":
        return host.is_bridge(dev)
    if step.kind == "vlan":
        return step.args[0] in vlans_on(host, dev)
    return os.path.isdir(f"{host.root}/sys/class/net/{dev}")
