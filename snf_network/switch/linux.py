"""Linux bridges and bonds: the steps of a ``linux-bridge`` switch, through ``ip`` and ``bridge``.

Each ``make`` is idempotent (it reads the device first) and returns what
the node had before, for the record; each ``undo`` removes only what the
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
        else:
            previous = step.previous or "existed"
            if step.args and host.link_attribute(dev, "bridge/vlan_filtering") != "1":
                _ip(host, "link", "set", dev, "type", "bridge", "vlan_filtering", "1")
                previous = "existed:vlan_filtering=0"
        _ip(host, "link", "set", dev, "up")
        return step.previous or previous
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
        if current != master:
            if current:
                raise SnfNetworkError(f"{step.switch}: {dev} is already a port of {current}")
            if step.kind == "member":
                _ip(host, "link", "set", dev, "down")  # the bonding driver takes only devices that are down
            _ip(host, "link", "set", dev, "master", master)
        _ip(host, "link", "set", dev, "up")
        return ""
    if step.kind == "mtu":
        previous = step.previous or host.link_attribute(dev, "mtu")
        _ip(host, "link", "set", dev, "mtu", step.args[0])
        return previous
    if step.kind == "vlan":
        host.run(["bridge", "vlan", "add", "dev", dev, "vid", step.args[0]])
        return ""
    raise SnfNetworkError(f"unknown switch step {step.kind}")  # pragma: no cover - steps.of_switch makes these


def undo(host: Host, step: Step) -> str:
    """Remove what ``step`` made; a warning when something is left on purpose, '' otherwise."""
    dev = step.dev
    if not host.link_exists(dev):
        return ""
    if step.kind == "bridge":
        if step.previous == "created":
            ports = bridge_ports(host, dev)
            if ports:
                return f"{step.switch}: kept bridge {dev}: it still has ports ({' '.join(ports)})"
            _ip(host, "link", "del", dev)
        elif step.previous.endswith("vlan_filtering=0"):
            _ip(host, "link", "set", dev, "type", "bridge", "vlan_filtering", "0")
        return ""
    if step.kind == "bond":
        if step.previous == "created":
            _ip(host, "link", "del", dev)
        return ""
    if step.kind in ("member", "port"):
        if host.link_master(dev) == step.args[0]:
            _ip(host, "link", "set", dev, "nomaster")
        return ""
    if step.kind == "mtu":
        if step.previous and step.previous != host.link_attribute(dev, "mtu"):
            result = host.run(["ip", "link", "set", dev, "mtu", step.previous], check=False)
            if result.returncode != 0:
                return f"{step.switch}: could not put the mtu of {dev} back to {step.previous}"
        return ""
    if step.kind == "vlan":
        host.run(["bridge", "vlan", "del", "dev", dev, "vid", step.args[0]], check=False)
        return ""
    return ""


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
        result = host.run(["bridge", "-j", "vlan", "show", "dev", dev], check=False)
        return f'"vlan":{step.args[0]},' in result.stdout.replace(" ", "") or \
            f'"vlan":{step.args[0]}}}' in result.stdout.replace(" ", "")
    return os.path.isdir(f"{host.root}/sys/class/net/{dev}")
