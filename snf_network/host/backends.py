"""From a plan item's kind to the part of the host that makes it so.

Each backend takes every item of its kinds in one batch per run (one ``nft``
transaction, one ``ip -batch`` per family), so a NIC costs a handful of
processes whatever it holds. A new kind of item is a class in plan.py and an
entry here, with its backend's module; the engine, ``plan``, ``status`` and
``verify`` find it through this table.
"""

from __future__ import annotations

from snf_network.host import Backend, binding, communication, ip, nft, ovs, sysctl, tc, vlan

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from snf_network.plan import Item


# In the order a NIC's items are applied: settings, then filters before the
# link comes up (tc's shapers too), then the files other daemons read (a
# communication tap's address and dnsmasq hosts entry among them). Undoing
# runs backwards, so the link goes down before its filters go. An Open vSwitch
# port and its flows, and a VLAN-aware bridge's port and its VLANs, are made
# while the tap is still down.
BACKENDS: tuple[Backend, ...] = (sysctl.BACKEND, nft.BACKEND, ovs.BACKEND, vlan.BACKEND, tc.BACKEND, ip.BACKEND,
                                 communication.BACKEND, binding.BACKEND)
BY_KIND: dict[str, Backend] = {kind: backend for backend in BACKENDS for kind in backend.kinds}


def of_kinds(backend: Backend, items: list[Item]) -> list[Item]:
    return [item for item in items if item.kind in backend.kinds]
