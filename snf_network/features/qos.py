"""Bandwidth limits: a shaper in each direction, from the qos tags (snf_network/qos.py).

A routed or bridged NIC is a tap (or a Xen vif) on the node: an HTB shaper
as the tap's root qdisc for what the VM receives, and for what it sends the
tap's ingress redirected to the NIC's ifb with the same shaper (host/tc.py).
Open vSwitch NICs are not here: ovs-vswitchd deletes tc state on its ports,
so features/openvswitch.py sets OVS's own QoS and policing (host/ovs.py).
"""

from __future__ import annotations

from snf_network import qos
from snf_network.config import Config
from snf_network.features.base import Feature
from snf_network.nic import Nic
from snf_network.plan import Facts, IfbLink, IngressRedirect, Plan, Shaper

MODES = ("routed", "bridged")


def applies(nic: Nic, cfg: Config) -> bool:
    # Parsing every qos tag here refuses a bad one before anything is planned.
    return nic.mode in MODES and qos.limit_for(nic, cfg) is not None


def plan(nic: Nic, cfg: Config, facts: Facts, result: Plan) -> None:
    limit = qos.limit_for(nic, cfg)
    if limit is None:
        return
    ifb = qos.ifb_name(nic.interface)
    result.derived.update(QOS_RATE=qos.show_rate(limit.rate), QOS_IFB=ifb)
    if limit.burst:
        result.derived["QOS_BURST"] = str(limit.burst)
    result.add(Shaper(nic.interface, limit.rate, limit.burst), IfbLink(ifb, nic.interface),
               Shaper(ifb, limit.rate, limit.burst), IngressRedirect(nic.interface, ifb))


FEATURE = Feature(
    "qos",
    answers=lambda cfg: ("instance tag `snf-network:qos:<nic>:<rate>[:<burst>]`, "
                         f"network tag `{cfg.QOS_TAG}:<rate>[:<burst>]`"),
    summary="a bandwidth limit both ways: an HTB shaper on the tap, and on an ifb fed by the tap's ingress",
    applies=applies,
    plan=plan,
)
