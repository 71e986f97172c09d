"""Features: pure functions from (Nic, Config, Facts) to the host state a NIC needs.

Each module handles one mode or one network tag and adds to a Plan; none of
them touches the host. The tuple below is the whole registry, in the order
the features run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from snf_network.config import Config
from snf_network.errors import InputError
from snf_network.features import bridged, nfdhcpd, routed
from snf_network.nic import Nic
from snf_network.plan import Facts, Plan


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    applies: Callable[[Nic, Config], bool]
    plan: Callable[[Nic, Config, Facts, Plan], None]


FEATURES: tuple[Feature, ...] = (
    Feature("routed", routed.applies, routed.plan),
    Feature("bridged", bridged.applies, bridged.plan),
    Feature("nfdhcpd", nfdhcpd.applies, nfdhcpd.plan),
)

SUPPORTED_MODES = ("routed", "bridged")


def plan(nic: Nic, cfg: Config, facts: Facts) -> Plan:
    """Everything ``nic`` needs on this host."""
    if nic.mode not in SUPPORTED_MODES:
        # Our kvm-vif-bridge replaces Ganeti's own mode handling, so saying
        # nothing here would start the VM with a dead NIC.
        raise InputError(f"MODE: {nic.mode} NICs are not supported by snf-network yet")
    result = Plan()
    for feature in FEATURES:
        if feature.applies(nic, cfg):
            result.features.append(feature.name)
            feature.plan(nic, cfg, facts, result)
    return result
