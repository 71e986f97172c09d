"""From a declared switch to the steps that make it so, as plain values a record can hold.

A step names its switch, what it makes (``kind``), the device and its
arguments; ``previous`` says what the node had before the first apply made
it (``created`` or ``existed`` for devices, ``made`` or ``existed`` for a
port, member or VLAN, the old MTU), so undoing a step removes only what we
made and puts back what we changed.

A step's identity is ``ident()`` (switch, kind, device; the VID of a VLAN):
its arguments are settings, so a changed setting changes the step in place
and keeps what the record knew before, instead of undoing and remaking it.
"""

from __future__ import annotations

from snf_network.value import Value

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from typing import Any

    from snf_network.switch.spec import Switch


class Step(Value):
    __slots__ = ("switch", "kind", "dev", "args", "previous")
    uncompared = ("previous",)

    def __init__(self, switch: str, kind: str, dev: str, args: tuple[str, ...] = (), previous: str = "") -> None:
        self.switch, self.kind, self.dev, self.args, self.previous = switch, kind, dev, tuple(args), previous

    def with_previous(self, previous: str) -> Step:
        return Step(self.switch, self.kind, self.dev, self.args, previous)

    def ident(self) -> tuple[str, str, str, str]:
        """What the step is, without its settings: several VLANs share a device, one step each."""
        return self.switch, self.kind, self.dev, self.args[0] if self.kind == "vlan" else ""

    def describe(self) -> str:
        what = {
            "bridge": lambda: f"linux bridge {self.dev}" + (" with vlan_filtering" if self.args else ""),
            "bond": lambda: f"bond {self.dev} mode {self.args[0]}" + (
                f" lacp {self.args[1]}" if self.args[1] != "off" else ""),
            "member": lambda: f"{self.dev} in bond {self.args[0]}",
            "mtu": lambda: f"mtu {self.args[0]} on {self.dev}",
            "port": lambda: f"{self.dev} in bridge {self.args[0]}",
            "vlan": lambda: f"vlan {self.args[0]} tagged on {self.dev}",
            "ovs-bridge": lambda: f"ovs bridge {self.dev} datapath {self.args[0]}" + (
                f" mtu {self.args[1]}" if self.args[1] != "0" else ""),
            "ovs-port": lambda: _ovs_port(self),
        }[self.kind]()
        return f"{self.switch}: {what}"

    def to_dict(self) -> dict[str, Any]:
        return {"switch": self.switch, "kind": self.kind, "dev": self.dev, "args": list(self.args),
                "previous": self.previous}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Step:
        """A recorded step; ValueError for one this version cannot have written (the record is damaged)."""
        kind, args = str(data["kind"]), data["args"]
        if kind not in ARG_COUNTS:
            raise ValueError(f"unknown step kind {kind!r}")
        if not isinstance(args, list) or len(args) not in ARG_COUNTS[kind]:
            raise ValueError(f"{kind} step with arguments {args!r}")
        return cls(str(data["switch"]), kind, str(data["dev"]), tuple(str(a) for a in args),
                   str(data.get("previous", "")))


# Each kind and how many arguments of_switch gives it.
ARG_COUNTS = {"bridge": (0, 1), "bond": (2,), "member": (1,), "mtu": (1,), "port": (1,), "vlan": (1,),
              "ovs-bridge": (2,), "ovs-port": (6,)}
KINDS = tuple(ARG_COUNTS)


def _ovs_port(step: Step) -> str:
    bridge, members, mode, lacp, trunks, mtu = step.args
    words = [f"ovs port {step.dev} on {step.args[0]}"]
    if members:
        words.append(f"bond of {members.replace(',', ' ')} {mode} lacp {lacp}")
    if trunks:
        words.append(f"trunks {trunks}")
    if mtu != "0":
        words.append(f"mtu {mtu}")
    del bridge
    return ", ".join(words)


def of_switch(switch: Switch) -> list[Step]:
    """In the order they are made (undone in reverse)."""
    name = switch.name
    if switch.type == "openvswitch":
        steps = [Step(name, "ovs-bridge", name, (switch.datapath, str(switch.mtu)))]
        if switch.port:
            mode, lacp = switch.bond_mode, switch.lacp
            if mode == "802.3ad":
                mode = "balance-tcp"  # OVS's name for LACP-negotiated L4 hashing
            steps.append(Step(name, "ovs-port", switch.port, (
                name, ",".join(switch.members), mode if switch.bond else "", lacp if switch.bond else "",
                ",".join(str(vid) for vid in switch.vlans), str(switch.mtu))))
        return steps
    steps = [Step(name, "bridge", name, ("vlan_filtering",) if switch.vlans else ())]
    if switch.bond:
        steps.append(Step(name, "bond", switch.bond, (switch.bond_mode, switch.lacp)))
        steps += [Step(name, "member", member, (switch.bond,)) for member in switch.members]
    if switch.mtu and switch.port:
        steps.append(Step(name, "mtu", switch.port, (str(switch.mtu),)))
    if switch.port:
        steps.append(Step(name, "port", switch.port, (name,)))
    if switch.mtu:
        steps.append(Step(name, "mtu", name, (str(switch.mtu),)))
    steps += [Step(name, "vlan", switch.port, (str(vid),)) for vid in switch.vlans]
    return steps
