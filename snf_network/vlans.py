"""Ganeti's VLAN parameter, read once into what a port carries (doc/network.rst, man gnt-instance).

- ``N`` or ``.N``: an access port, VLAN N untagged (``gnt-instance add``
  writes ``.N``; ``modify`` and ``gnt-network connect`` pass a bare ``N``);
- ``:N[:M...]``: a trunk, every VLAN tagged;
- ``.N:M[:K...]``: a hybrid port, N native (untagged), the others tagged.

Ganeti's own OVS script gets the first form wrong (``.100`` also becomes
``trunks=.100``, which OVS refuses); this is the documented meaning, for Open
vSwitch ports (host/ovs.py) and VLAN-aware Linux bridges (host/vlan.py) alike.
"""

from __future__ import annotations

from snf_network.errors import InputError
from snf_network.value import Value

MAX_VID = 4094  # 0 is "no VLAN" and 4095 is reserved (IEEE 802.1Q)


class Vlans(Value):
    """``native``: the untagged VLAN (0: none); ``tagged``: the VLANs carried tagged, in order."""

    __slots__ = ("native", "tagged")

    def __init__(self, native: int, tagged: tuple[int, ...]) -> None:
        self.native, self.tagged = native, tagged

    @property
    def mode(self) -> str:
        """access, trunk or hybrid."""
        if not self.tagged:
            return "access"
        return "hybrid" if self.native else "trunk"

    @property
    def all(self) -> tuple[int, ...]:
        return ((self.native,) if self.native else ()) + self.tagged


def parse(text: str, variable: str = "VLAN") -> Vlans:
    """The port that ``text`` asks for (checks.is_vlan has already accepted its shape)."""
    first, *others = text.split(":")
    native_text = first[1:] if first.startswith(".") else first
    try:
        native = int(native_text) if native_text else 0
        tagged = tuple(int(part) for part in others)
    except ValueError:
        raise InputError(f"{variable}: {text!r}: not a Ganeti VLAN (.N, :N:M or .N:M)") from None
    for vid in ((native,) if native_text else ()) + tagged:
        if not 1 <= vid <= MAX_VID:
            raise InputError(f"{variable}: {text!r}: VLAN {vid} is outside 1-{MAX_VID}")
    if not native and not tagged:
        raise InputError(f"{variable}: {text!r}: names no VLAN")
    if native in tagged or len(set(tagged)) != len(tagged):
        raise InputError(f"{variable}: {text!r}: a VLAN is named twice")
    return Vlans(native, tagged)
